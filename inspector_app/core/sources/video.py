"""Video files as a frame source, through OpenCV."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inspector_app.core.errors import SourceError
from inspector_app.core.sources.base import Frame, FrameSource, Pacer, SourceStatus, to_rgb

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".wmv", ".mpg", ".mpeg", ".ts", ".mjpeg", ".mjpg"}


class VideoFileSource(FrameSource):
    """Frames of a video file through OpenCV; ``fps`` paces playback (None: as fast as they are read)."""

    def __init__(self, path: str | Path, loop: bool = False, fps: float | None = None) -> None:
        self.path = Path(path).expanduser()
        super().__init__(f"video:{self.path}")
        self.loop = loop
        self._pacer = Pacer(fps)
        self._capture: Any = None
        self._first: np.ndarray | None = None
        self._delivered_since_start = 0

    def _open(self) -> None:
        if not self.path.is_file():
            msg = f"video file {self.path} {'is not a file' if self.path.exists() else 'does not exist'}"
            raise SourceError(msg)
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            self._release()
            msg = f"cannot open video {self.path}: OpenCV has no decoder for it or the file is damaged"
            raise SourceError(msg)
        ok, first = self._capture.read()
        if not ok or first is None:
            self._release()
            msg = f"video {self.path} has no readable frames"
            raise SourceError(msg)
        self._first = first
        self._delivered_since_start = 0
        self._pacer.reset()

    def _read(self) -> Frame | SourceStatus:
        bgr = self._grab()
        if bgr is None and self.loop and self._delivered_since_start > 0 and not self.stopped:
            self._restart()
            bgr = self._grab()
        if bgr is None:
            return self._end(f"end of video {self.path} ({self._index} frames shown)")
        try:
            image = to_rgb(bgr)
        except cv2.error as exc:
            return SourceStatus("skipped", f"frame {self._index} of {self.path.name}: {exc}")
        if not self._pacer.wait(self._stop_event):
            return self._stopped_status()
        self._delivered_since_start += 1
        return self._frame(image)

    def _grab(self) -> np.ndarray | None:
        if self._first is not None:
            frame, self._first = self._first, None
            return frame
        if self._capture is None:
            return None
        try:
            ok, frame = self._capture.read()
        except cv2.error as exc:
            log.warning("%s: read failed: %s", self.source_id, exc)
            return None
        return frame if ok and frame is not None else None

    def _restart(self) -> None:
        """Reopen the file rather than seek: seeking to frame 0 is unreliable for some codecs."""
        self._release()
        self._capture = cv2.VideoCapture(str(self.path))
        self._delivered_since_start = 0

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _close(self) -> None:
        self._first = None
        self._release()
