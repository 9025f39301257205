"""The frame source interface: ``Frame``, ``SourceStatus``, ``FrameSource`` and the pacing of frames.

The GUI's reader thread and the command line pull frames with ``read()``, which blocks until the next frame
is due and reports per-frame trouble (an unreadable file, a camera that dropped out, the end) as a
``SourceStatus`` instead of raising, so a long inspection run survives a bad file or a loose cable.
``open()`` is the one place that raises, with a message that says what could not be opened and why.
``stop()`` may be called from any thread and makes a blocked ``read()`` return ``SourceStatus("end")``
within a fraction of a second, so the operator can switch sources at any time.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import cv2
import numpy as np

from inspector_app.core.errors import SourceError

log = logging.getLogger(__name__)


@dataclass
class Frame:
    """One picture from a source, with where and when it came from."""

    image: np.ndarray  # uint8 RGB, H×W×3
    source_id: str  # e.g. "folder:/path", "camera:0", "video:/path.mp4"
    index: int  # 0, 1, 2, ... frames delivered by this source
    timestamp: float  # time.time() at capture
    path: str | None = None  # the file, for folder sources


@dataclass
class SourceStatus:
    """Something the operator should know about instead of a frame: "lost", "recovered", "skipped" or "end"."""

    kind: str
    message: str


class Pacer:
    """Spaces frames ``1/fps`` apart on the monotonic clock; when behind it delivers at once and re-anchors."""

    def __init__(self, fps: float | None) -> None:
        if fps is not None and not fps > 0:
            msg = f"frame rate must be a positive number of frames per second or None, got {fps!r}"
            raise SourceError(msg)
        self.period = None if fps is None else 1.0 / fps
        self._due: float | None = None

    def wait(self, stop: threading.Event) -> bool:
        """Sleep until the next frame is due; False when ``stop`` was set meanwhile."""
        if self.period is None:
            return not stop.is_set()
        now = time.monotonic()
        if self._due is None or now - self._due > self.period:
            self._due = now  # first frame, or more than a frame behind: no burst to catch up
        delay = self._due - now
        if delay > 0 and stop.wait(delay):
            return False
        self._due += self.period
        return not stop.is_set()

    def reset(self) -> None:
        self._due = None


class FrameSource(abc.ABC):
    """A stream of frames: ``open``, then ``read`` until a ``SourceStatus("end")``, then ``close``.

    Subclasses implement ``_open``, ``_read`` and ``_close``; this class adds the stop event, frame
    numbering, the context manager and iteration.
    """

    source_id: str

    def __init__(self, source_id: str) -> None:
        self.source_id = source_id
        self._stop_event = threading.Event()
        self._index = 0
        self._opened = False
        self._closed = False

    # -- public interface -------------------------------------------------------------------------------
    def open(self) -> None:
        """Start the source; raises SourceError with the reason when it cannot be opened at all."""
        if self._opened:
            self._close()
        self._open()
        self._opened, self._closed = True, False
        log.info("opened %s", self.source_id)

    def read(self) -> Frame | SourceStatus:
        """The next frame, waiting until it is due, or a status; never raises for per-frame problems."""
        if not self._opened:
            msg = f"{self.source_id}: read() before open()"
            raise RuntimeError(msg)
        if self._closed or self._stop_event.is_set():
            return SourceStatus("end", f"{self.source_id} {'closed' if self._closed else 'stopped'}")
        item = self._read()
        if isinstance(item, SourceStatus) and item.kind != "end":
            log.info("%s: %s %s", self.source_id, item.kind, item.message)
        return item

    def close(self) -> None:
        """Release the file, video or camera; safe to call more than once."""
        if self._opened and not self._closed:
            self._closed = True
            self._close()
            log.info("closed %s", self.source_id)

    def stop(self) -> None:
        """Make a blocked or future ``read()`` return ``SourceStatus("end")`` promptly; callable from any thread."""
        self._stop_event.set()

    @property
    def stopped(self) -> bool:
        """True once ``stop()`` was called; a stopped source stays stopped."""
        return self._stop_event.is_set()

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame | SourceStatus]:
        """Frames and statuses until the end; the final ``SourceStatus("end")`` itself is not yielded."""
        while True:
            item = self.read()
            if isinstance(item, SourceStatus) and item.kind == "end":
                return
            yield item

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.source_id!r})"

    # -- for subclasses ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def _open(self) -> None: ...

    @abc.abstractmethod
    def _read(self) -> Frame | SourceStatus: ...

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default holds none."""

    def _frame(self, image: np.ndarray, path: str | None = None) -> Frame:
        frame = Frame(image, self.source_id, self._index, time.time(), path)
        self._index += 1
        return frame

    def _end(self, message: str) -> SourceStatus:
        return SourceStatus("end", message)

    def _stopped_status(self) -> SourceStatus:
        return SourceStatus("end", f"{self.source_id} stopped")


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV's BGR (or gray, or BGRA) frame as contiguous uint8 RGB."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
