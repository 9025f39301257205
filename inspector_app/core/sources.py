"""Frame sources: one interface over image folders, video files, cameras and the synthetic test camera.

The GUI's reader thread and the command line pull frames with ``read()``, which blocks until the next frame
is due and reports per-frame trouble (an unreadable file, a camera that dropped out, the end) as a
``SourceStatus`` instead of raising, so a long inspection run survives a bad file or a loose cable.
``open()`` is the one place that raises, with a message that says what could not be opened and why.
``stop()`` may be called from any thread and makes a blocked ``read()`` return ``SourceStatus("end")``
within a fraction of a second, so the operator can switch sources at any time.
"""

from __future__ import annotations

import abc
import inspect
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from inspector_app.core.datasets import IMAGE_SUFFIXES, list_images, natural_key
from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.errors import ImageLoadError, SourceError
from inspector_app.core.images import load_image

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".wmv", ".mpg", ".mpeg", ".ts", ".mjpeg", ".mjpg"}
STREAM_SCHEMES = {"rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "rtp"}


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


class _Pacer:
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


# -- folders ------------------------------------------------------------------------------------------------


class FolderSource(FrameSource):
    """Images of a folder in natural-sorted order, optionally looping or watching for new files.

    With ``watch`` the source waits for files that appear later (a camera or another program writing into
    the folder); a new file is taken once its size and time stamp are the same on two polls in a row, so
    a half-written file is not read.
    """

    def __init__(
        self,
        folder: str | Path,
        loop: bool = False,
        fps: float | None = None,
        watch: bool = False,
        poll_interval: float = 0.5,
    ) -> None:
        self.folder = Path(folder).expanduser()
        super().__init__(f"folder:{self.folder}")
        if not poll_interval > 0:
            msg = f"poll interval must be a positive number of seconds, got {poll_interval!r}"
            raise SourceError(msg)
        self.loop, self.watch, self.poll_interval = loop, watch, poll_interval
        self._pacer = _Pacer(fps)
        self._files: list[Path] = []
        self._pos = 0
        self._seen: set[Path] = set()
        self._pending: dict[Path, tuple[int, int]] = {}
        self._delivered_this_pass = False
        self._folder_lost = False

    def _open(self) -> None:
        if not self.folder.is_dir():
            what = "is not a folder" if self.folder.exists() else "does not exist"
            msg = f"image folder {self.folder} {what}"
            raise SourceError(msg)
        try:
            self._files = list_images(self.folder)
        except OSError as exc:
            msg = f"cannot list image folder {self.folder}: {exc}"
            raise SourceError(msg) from exc
        if not self._files and not self.watch:
            msg = f"image folder {self.folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
            raise SourceError(msg)
        self._seen = set(self._files)
        self._pending.clear()
        self._delivered_this_pass = False
        self._folder_lost = False
        self._pos = 0
        self._pacer.reset()

    def _read(self) -> Frame | SourceStatus:
        while not self.stopped:
            if self._pos < len(self._files):
                return self._next_file()
            if self.loop and self._files:
                if not self._delivered_this_pass:
                    return self._end(f"no readable images in {self.folder}; stopped looping")
                self._pos, self._delivered_this_pass = 0, False
                continue
            if not self.watch:
                return self._end(f"end of folder {self.folder} ({self._index} images shown)")
            status = self._poll()
            if status is not None:
                return status
        return self._stopped_status()

    def _next_file(self) -> Frame | SourceStatus:
        path = self._files[self._pos]
        self._pos += 1
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            return SourceStatus("skipped", f"{path.name}: {exc.reason}")
        if not self._pacer.wait(self._stop_event):
            return self._stopped_status()
        self._delivered_this_pass = True
        return self._frame(image, str(path))

    def _poll(self) -> SourceStatus | None:
        """Wait one poll interval, then queue the new files that have stopped growing."""
        if self._stop_event.wait(self.poll_interval):
            return None
        current, problem = self._scan()
        if current is None:
            if self._folder_lost:
                return None
            self._folder_lost = True
            return SourceStatus("lost", f"cannot list {self.folder}: {problem}; still watching")
        stats = {p: _signature(p) for p in current if p not in self._seen}
        ready = [p for p, sig in stats.items() if sig is not None and self._pending.get(p) == sig]
        self._pending = {p: sig for p, sig in stats.items() if sig is not None and p not in ready}
        if ready:
            ready.sort(key=lambda p: natural_key(p.name))
            self._seen.update(ready)
            self._files.extend(ready)
        if self._folder_lost:
            self._folder_lost = False
            return SourceStatus("recovered", f"{self.folder} is readable again")
        return None


    def _scan(self) -> tuple[list[Path] | None, str]:
        """The folder's images, or None and why (an unplugged drive or a dropped network share)."""
        try:
            if self.folder.is_dir():
                return list_images(self.folder), ""
        except OSError as exc:
            return None, str(exc)
        return None, "the folder is gone"


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None  # removed between listing and stat
    return stat.st_size, stat.st_mtime_ns


# -- video files --------------------------------------------------------------------------------------------


def _to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV's BGR (or gray, or BGRA) frame as contiguous uint8 RGB."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class VideoFileSource(FrameSource):
    """Frames of a video file through OpenCV; ``fps`` paces playback (None: as fast as they are read)."""

    def __init__(self, path: str | Path, loop: bool = False, fps: float | None = None) -> None:
        self.path = Path(path).expanduser()
        super().__init__(f"video:{self.path}")
        self.loop = loop
        self._pacer = _Pacer(fps)
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
            image = _to_rgb(bgr)
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


# -- cameras ------------------------------------------------------------------------------------------------


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
        backoff: (first, longest) delay in seconds between reconnection attempts; the delay doubles.
        wait: waits up to the given seconds and returns True when stopped; defaults to the stop event's
            wait. Tests pass a fake to check the back-off without sleeping.
    """

    def __init__(
        self,
        device: int | str,
        opener: Callable[[int | str], Any] | None = None,
        backoff: tuple[float, float] = (0.5, 8.0),
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
        return self._frame(_to_rgb(bgr))

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
            self._capture, self._held, self._delay = capture, _to_rgb(bgr), self.backoff[0]
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


# -- the synthetic test camera ------------------------------------------------------------------------------


class SyntheticSource(FrameSource):
    """Generated parts from ``demo_parts.render_part``: a test camera that needs no hardware and no data.

    Frame ``i`` depends only on ``seed`` and ``i``; ``defect_at(i)`` tells which defect (if any) it shows,
    so tests and benchmarks know the truth for each frame.
    """

    def __init__(
        self, seed: int = 0, size: int = 256, defect_rate: float = 0.25, fps: float | None = None,
        count: int | None = None,
    ) -> None:
        super().__init__(f"synthetic:{seed}")
        if not 0.0 <= defect_rate <= 1.0:
            msg = f"defect rate must be between 0 and 1, got {defect_rate!r}"
            raise SourceError(msg)
        if size < 8:
            msg = f"synthetic frame size must be at least 8 pixels, got {size!r}"
            raise SourceError(msg)
        if count is not None and count < 0:
            msg = f"frame count must be 0 or more (or None for endless), got {count!r}"
            raise SourceError(msg)
        self.seed, self.size, self.defect_rate, self.count = seed, size, defect_rate, count
        self._pacer = _Pacer(fps)

    def defect_at(self, index: int) -> str | None:
        """The defect kind frame ``index`` shows, or None for a good part."""
        rng = np.random.default_rng([self.seed, index, zlib.crc32(b"defect")])
        if rng.random() >= self.defect_rate:
            return None
        return DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))]

    def render(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``index`` as (uint8 RGB image, bool defect mask)."""
        part_seed = int(np.random.default_rng([self.seed, index]).integers(2**31 - 1))
        return render_part(part_seed, self.size, defect=self.defect_at(index))

    def _open(self) -> None:
        self._index = 0
        self._pacer.reset()

    def _read(self) -> Frame | SourceStatus:
        if self.count is not None and self._index >= self.count:
            return self._end(f"synthetic source done after {self.count} frames")
        image, _ = self.render(self._index)
        if not self._pacer.wait(self._stop_event):
            return self._stopped_status()
        return self._frame(image)


# -- parsing what the user typed ----------------------------------------------------------------------------

_CAMERA_PREFIX = re.compile(r"^(?:camera|cam):(.+)$", re.IGNORECASE)
_SYNTHETIC = re.compile(r"^synthetic(?::(-?\d+))?$", re.IGNORECASE)
_USAGE = (
    "expected an image folder, a video file, camera:<index>, a camera index, an rtsp:// or http:// URL, "
    "or 'synthetic'"
)


def open_source(spec: str, **options: Any) -> FrameSource:
    """Turn what a user typed into a frame source (not yet opened).

    Args:
        spec: an existing folder, a video file, ``camera:0`` or ``0``, a stream URL, or ``synthetic``
            (``synthetic:<seed>`` picks the seed).
        **options: constructor options (``loop``, ``fps``, ``watch``...); those the chosen kind does not take
            are logged and ignored, so one set of command-line options fits every kind.

    Raises:
        SourceError: the text names nothing that can be opened.
    """
    text = str(spec).strip()
    if not text:
        msg = f"empty source; {_USAGE}"
        raise SourceError(msg)
    cls, args = _parse(text)
    return cls(*args, **_accepted(cls, options))


def _parse(text: str) -> tuple[type[FrameSource], tuple[Any, ...]]:
    synthetic = _SYNTHETIC.match(text)
    if synthetic:
        return SyntheticSource, (int(synthetic.group(1) or 0),)
    camera = _CAMERA_PREFIX.match(text)
    if camera:
        return CameraSource, (camera.group(1).strip(),)
    if text.isdigit():
        return CameraSource, (int(text),)
    if urlsplit(text).scheme.lower() in STREAM_SCHEMES:
        return CameraSource, (text,)
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource, (path,)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if not path.is_file():
            msg = f"video file {path} does not exist"
            raise SourceError(msg)
        return VideoFileSource, (path,)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        msg = f"{path} is a single image; open its folder ({path.parent}) instead"
        raise SourceError(msg)
    what = "is not a folder or a known video type" if path.exists() else "is no folder, file, camera or URL"
    msg = f"source {text!r} {what}; {_USAGE}"
    raise SourceError(msg)


def _accepted(cls: type[FrameSource], options: dict[str, Any]) -> dict[str, Any]:
    names = set(inspect.signature(cls.__init__).parameters) - {"self"}
    ignored = {k: v for k, v in options.items() if k not in names}
    if ignored:
        log.info("%s takes no %s; ignored", cls.__name__, ", ".join(f"{k}={v!r}" for k, v in ignored.items()))
    return {k: v for k, v in options.items() if k in names}
