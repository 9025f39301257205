"""The file side of the capture store: where images and anomaly maps go, and how they arrive and leave.

A capture is encoded into ``captures/.pending/`` (outside any database lock, since a large PNG takes a
while), then renamed to ``captures/YYYY-MM-DD/<id>.png`` inside the transaction that inserts its row. Files
are removed only after the rows naming them are gone, so a row never points at a missing file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from datetime import datetime
from pathlib import Path

import numpy as np

from inspector_app.core.images import save_image

log = logging.getLogger(__name__)

PENDING_DIR = ".pending"
#: Pending files older than this are leftovers of a crash (younger ones may belong to another process).
STALE_PENDING_S = 3600.0


def save_map(path: Path, anomaly_map: np.ndarray) -> None:
    """Write a 2-D anomaly map as float16 ``.npy`` (no pickle)."""
    data = np.asarray(anomaly_map, dtype=np.float16)
    if data.ndim != 2:
        msg = f"anomaly_map must be a 2-D HxW array, got shape {data.shape}"
        raise ValueError(msg)
    with open(path, "wb") as handle:
        np.save(handle, data, allow_pickle=False)


def fsync_file(path: Path) -> None:
    """Flush a written file to the disk (opened for update: Windows refuses to fsync a read-only handle)."""
    with open(path, "r+b") as handle:
        os.fsync(handle.fileno())


def fsync_dir(folder: Path) -> None:
    """Make renames into ``folder`` durable (POSIX only; Windows cannot open a folder for this)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CaptureFiles:
    """Image and map files under one captures folder; paths in the database are relative to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pending_dir = root / PENDING_DIR
        self.pending_dir.mkdir(parents=True, exist_ok=True)

    def write_pending(self, image: np.ndarray, anomaly_map: np.ndarray | None) -> list[Path]:
        """Encode the image (PNG via ``core.images.save_image``) and map into the pending folder, flushed to disk.

        Returns:
            Their paths, image first.
        """
        token = uuid.uuid4().hex
        paths = [self.pending_dir / f"{token}.png"]
        try:
            save_image(paths[0], image)
            if anomaly_map is not None:
                paths.append(self.pending_dir / f"{token}_map.npy")
                save_map(paths[1], anomaly_map)
            for path in paths:  # the row will be committed durably; its files must be on disk first
                fsync_file(path)
        except BaseException:
            self.discard(paths)
            raise
        return paths

    @staticmethod
    def day_folder(captured_at: float) -> str:
        """``YYYY-MM-DD`` of the capture time, in local time (the day the operator saw it)."""
        return datetime.fromtimestamp(captured_at).strftime("%Y-%m-%d")

    @staticmethod
    def names_for(day: str, record_id: int, count: int) -> list[str]:
        """Relative names for a record's files: ``<day>/<id>.png`` then ``<day>/<id>_map.npy``."""
        return [f"{day}/{record_id}.png", f"{day}/{record_id}_map.npy"][:count]

    def place(self, pending: list[Path], names: list[str], placed: list[Path]) -> None:
        """Rename pending files to their final names, appending each to ``placed`` as it lands."""
        for source, name in zip(pending, names, strict=True):
            target = self.root / name
            target.parent.mkdir(exist_ok=True)
            os.replace(source, target)
            placed.append(target)
        if placed:
            fsync_dir(placed[0].parent)

    @staticmethod
    def discard(paths: list[Path]) -> None:
        """Remove files of a capture that did not make it into the database."""
        for path in paths:
            path.unlink(missing_ok=True)

    def remove(self, names: list[str]) -> None:
        """Delete stored files by relative name, and day folders left empty."""
        folders = set()
        for name in names:
            path = self.root / name
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("cannot remove capture file %s: %s", path, exc)
            folders.add(path.parent)
        for folder in folders:
            with contextlib.suppress(OSError):  # rmdir succeeds only once a day's folder is empty
                folder.rmdir()

    def sweep_pending(self) -> int:
        """Remove stale pending files left by a crash; returns how many."""
        cutoff = time.time() - STALE_PENDING_S
        removed = 0
        for path in self.pending_dir.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError as exc:
                log.warning("cannot remove stale capture file %s: %s", path, exc)
        return removed
