"""Image folders as a frame source, optionally looping or watching for files that arrive later."""

from __future__ import annotations

from pathlib import Path

from inspector_app.core.datasets import IMAGE_SUFFIXES, list_images, natural_key
from inspector_app.core.errors import ImageLoadError, SourceError, printable
from inspector_app.core.images import load_image
from inspector_app.core.sources.base import Frame, FrameSource, Pacer, SourceStatus


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
        self._pacer = Pacer(fps)
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
            return SourceStatus("skipped", f"{printable(path.name)}: {exc.reason}")
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
