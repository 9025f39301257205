"""Live cameras and network streams as a frame source that survives unplugging and network drops."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from inspector_app.core.errors import SourceError
from inspector_app.core.sources.base import Frame, FrameSource, SourceStatus, to_rgb

log = logging.getLogger(__name__)

STREAM_SCHEMES = {"rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "rtp"}


def _redact(url: str) -> str:
    """A stream URL without its password, for logs and the window."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


class CameraSource(FrameSource):
    """A live camera (OpenCV index) or network stream (URL) that survives unplugging and network drops.

    A failed grab reports ``SourceStatus("lost")`` once, then reconnects with exponential back-off; the
    first good frame after that reports ``SourceStatus("recovered")`` and frames continue. A camera that is
    absent when the source opens is reported as lost too, so an operator can plug it in later.

    Args:
        device: an OpenCV camera index, or a stream URL such as ``rtsp://…``.
        opener: makes a capture object with ``isOpened()``, ``read()`` and ``release()``; defaults to
            ``cv2.VideoCapture``. Tests pass a fake.
        backoff: (first, longest) delay in seconds between reconnection attempts; the delay doubles. The
            longest is short (1.5 s) so a camera plugged back in is streaming again within 2 s, however long
            it was away; a failed open costs next to nothing, so retrying that often is cheap.
        wait: waits up to the given seconds and returns True when stopped; defaults to the stop event's
            wait. Tests pass a fake to check the back-off without sleeping.
    """

    def __init__(
        self,
        device: int | str,
        opener: Callable[[int | str], Any] | None = None,
        backoff: tuple[float, float] = (0.5, 1.5),
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device.strip())
        self.device = device
        super().__init__(f"camera:{device if isinstance(device, int) else _redact(str(device))}")
        first, longest = backoff
        if not 0 < first <= longest:
            msg = f"back-off must be (first, longest) seconds with 0 < first <= longest, got {backoff!r}"
            raise SourceError(msg)
        self.backoff = (float(first), float(longest))
        self._opener = opener or cv2.VideoCapture
        self._wait = wait or self._stop_event.wait
        self._capture: Any = None
        self._delay = self.backoff[0]
        self._announce_lost: str | None = None
        self._held: np.ndarray | None = None

    def _open(self) -> None:
        self._delay = self.backoff[0]
        self._capture = self._connect()
        if self._capture is None:
            self._announce_lost = f"camera {self.device} is not available; retrying"

    def _read(self) -> Frame | SourceStatus:
        if self._announce_lost is not None:
            message, self._announce_lost = self._announce_lost, None
            return SourceStatus("lost", message)
        if self._held is not None:
            image, self._held = self._held, None
            return self._frame(image)
        if self._capture is None:
            return self._reconnect()
        bgr = self._grab(self._capture)
        if bgr is None:
            self._drop_capture()
            self._delay = self.backoff[0]
            return SourceStatus("lost", f"camera {self.device} delivered no frame; reconnecting")
        return self._frame(to_rgb(bgr))

    def _reconnect(self) -> Frame | SourceStatus:
        """Retry with growing delays until a frame arrives (then "recovered") or the source is stopped."""
        while not self.stopped:
            delay = self._delay
            self._delay = min(self._delay * 2, self.backoff[1])
            if self._wait(delay) or self.stopped:
                break
            capture = self._connect()
            if capture is None:
                continue
            bgr = self._grab(capture)
            if bgr is None:
                _release(capture)
                continue
            self._capture, self._held, self._delay = capture, to_rgb(bgr), self.backoff[0]
            return SourceStatus("recovered", f"camera {self.device} is back")
        return self._stopped_status()

    def _connect(self) -> Any:
        """An opened capture, or None when the camera cannot be opened right now."""
        try:
            capture = self._opener(self.device)
            if capture is not None and capture.isOpened():
                return capture
        except Exception as exc:  # noqa: BLE001 - drivers raise anything; a camera must never crash the reader
            log.debug("%s: open failed: %s", self.source_id, exc)
            return None
        _release(capture)
        return None

    def _grab(self, capture: Any) -> np.ndarray | None:
        try:
            ok, frame = capture.read()
        except Exception as exc:  # noqa: BLE001 - see _connect
            log.debug("%s: grab failed: %s", self.source_id, exc)
            return None
        if not ok or frame is None or getattr(frame, "size", 0) == 0:
            return None
        return frame

    def _drop_capture(self) -> None:
        _release(self._capture)
        self._capture = None

    def _close(self) -> None:
        self._held = None
        self._drop_capture()


def _release(capture: Any) -> None:
    if capture is None:
        return
    try:
        capture.release()
    except Exception as exc:  # noqa: BLE001 - releasing a broken capture must not raise
        log.debug("release failed: %s", exc)
