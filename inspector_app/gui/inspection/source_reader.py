"""A QThread that pulls frames from a FrameSource into the worker's one-slot mailbox.

Reading happens off the GUI thread so a slow camera or disk never stalls painting. Pause and single step
are handled here: a paused reader stops reading and holds the mailbox, so frames it read ahead wait too.
"""

from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QThread, Signal

from inspector_app.core.cores import place_current_thread
from inspector_app.core.mailbox import LatestMailbox
from inspector_app.core.sources import Frame, FrameSource, SourceStatus

log = logging.getLogger(__name__)
#: Reads that raise this many times in a row end the stream (with a status) instead of spinning.
MAX_READ_FAILURES = 20


class SourceReader(QThread):
    #: (kind, message): "lost", "recovered", "skipped", "end", "error"
    status = Signal(str, str)

    def __init__(self, source: FrameSource, mailbox: LatestMailbox, generation: int, wait_for_worker: bool) -> None:
        super().__init__()
        self.source = source
        self.mailbox = mailbox
        self.generation = generation
        #: True for folders read as fast as the model goes: every image is inspected, none dropped.
        self.wait_for_worker = wait_for_worker
        self._running = threading.Event()
        self._running.set()
        self._paused = False  # the operator's state; _running also flickers on for each single step
        self._steps = 0
        self._lock = threading.Lock()
        self._stopping = False
        mailbox.release()  # a new source starts running, whatever the previous reader left held

    # -- controls, called from the GUI thread -----------------------------------------------------------
    def pause(self) -> None:
        """Stop reading. An unpaced folder's frames read ahead are held (inspected after resume or step); a
        live source holds nothing, so a step shows a frame read after the key press, never a stale one."""
        self._paused = True
        self._running.clear()
        if self.wait_for_worker:
            self.mailbox.hold()

    def resume(self) -> None:
        self._paused = False
        self.mailbox.release()
        self._running.set()

    def step(self) -> None:
        """Inspect exactly one more frame while paused: the oldest one read ahead, and read one more."""
        self.mailbox.grant_step()
        with self._lock:
            self._steps += 1
        self._running.set()

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> None:
        self._stopping = True
        self._running.set()
        self.source.stop()

    # -- thread body ------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.source.open()
        except Exception as exc:  # noqa: BLE001 - reported to the window, never raised in a thread
            self.status.emit("error", str(exc))
            return
        # After opening: a video decoder's own threads, started by open(), keep every core; this thread's
        # reading and decoding stay off the inference cores (core.cores).
        place_current_thread("reader")
        try:
            self._loop()
        finally:
            self.source.close()

    def _loop(self) -> None:
        failures = 0
        while not self._stopping:
            self._running.wait()
            if self._stopping:
                break
            try:
                item = self.source.read()
            except Exception as exc:  # noqa: BLE001 - a source's own bug must show in the window, not end the thread
                log.exception("%s: read failed", self.source.source_id)
                failures += 1
                if failures >= MAX_READ_FAILURES:
                    self.status.emit("error", f"{self.source.source_id} keeps failing ({exc}); stopped")
                    break
                self.status.emit("skipped", f"{type(exc).__name__}: {exc}")
                continue
            failures = 0
            if isinstance(item, SourceStatus):
                self.status.emit(item.kind, item.message)
                if item.kind == "end":
                    break
                continue
            self._deliver(item)

    def _deliver(self, frame: Frame) -> None:
        with self._lock:
            stepping = self._steps > 0
            if stepping:
                self._steps -= 1
                if self._steps == 0:
                    self._running.clear()
        if self.wait_for_worker:
            item, size = (self.generation, frame), frame.image.nbytes
            while not self._stopping and not self.mailbox.put(item, block=True, timeout=0.2, nbytes=size):
                pass
        else:
            self.mailbox.put((self.generation, frame))
