"""The hand-over between a frame reader and the inference worker: the newest frame, or a short read-ahead.

A live source (a camera, a paced stream) must never build a queue of stale frames: ``put`` replaces what is
waiting and counts it as dropped. A folder inspected as fast as the model allows (no frame rate set) loses
nothing: ``put(block=True)`` waits for room instead, and there a few decoded frames may wait in order.

That read-ahead exists because every wake-up of the reader slows the inference thread, so the reader is woken
seldom and then decodes many frames in a row (figures in ``docs/performance.md``); the byte limit keeps large
frames few.

While held (the operator paused) nothing is given out, except one item per granted step, in order.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

#: Frames an unpaced reader may decode ahead of the worker, and the bytes they may hold (at least one frame).
READ_AHEAD_FRAMES = 16
READ_AHEAD_BYTES = 64 << 20


class LatestMailbox(Generic[T]):
    def __init__(self, read_ahead: int = READ_AHEAD_FRAMES, max_bytes: int = READ_AHEAD_BYTES) -> None:
        self._items: deque[tuple[T, int]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._closed = False
        self._held = False
        self._steps = 0
        self.read_ahead = max(1, int(read_ahead))
        self.max_bytes = int(max_bytes)
        self.dropped = 0

    def put(self, item: T, block: bool = False, timeout: float | None = None, nbytes: int = 0) -> bool:
        """Offer an item; returns False if the mailbox closed (or a blocking put timed out).

        Non-blocking: the item replaces whatever waits (counted as dropped). Blocking: the item joins the
        read-ahead once there is room (fewer than ``read_ahead`` items and ``max_bytes`` bytes waiting).
        """
        with self._cond:
            if block and not self._cond.wait_for(lambda: self._has_room(nbytes) or self._closed, timeout):
                return False
            if self._closed:
                return False
            if not block:
                self.dropped += len(self._items)
                self._forget()
            self._items.append((item, nbytes))
            self._bytes += nbytes
            self._cond.notify_all()
            return True

    def take(self, timeout: float | None = None) -> T | None:
        """The next item, or None after ``timeout`` seconds (or once closed)."""
        with self._cond:
            if not self._cond.wait_for(self._can_give, timeout) or self._closed:
                return None
            if self._held:
                self._steps -= 1
            item, nbytes = self._items.popleft()
            self._bytes -= nbytes
            # Wake a waiting reader only once a quarter of the read-ahead is left: it then decodes many frames in
            # a row instead of being woken (and competing with this thread) for every single frame.
            if len(self._items) <= self.read_ahead // 4:
                self._cond.notify_all()
            return item

    def hold(self) -> None:
        """Give nothing out until :meth:`release` (waiting items stay, in order); steps already granted stay."""
        with self._cond:
            if not self._held:
                self._held, self._steps = True, 0

    def release(self) -> None:
        with self._cond:
            self._held, self._steps = False, 0
            self._cond.notify_all()

    def grant_step(self) -> None:
        """While held, let exactly one more item out."""
        with self._cond:
            if self._held:
                self._steps += 1
                self._cond.notify_all()

    def clear(self) -> None:
        """Forget waiting items without counting them as dropped (a source or model switch)."""
        with self._cond:
            self._forget()
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    # -- under the lock ----------------------------------------------------------------------------------
    def _has_room(self, nbytes: int) -> bool:
        if not self._items:
            return True
        return len(self._items) < self.read_ahead and self._bytes + nbytes <= self.max_bytes

    def _can_give(self) -> bool:
        return self._closed or (bool(self._items) and (not self._held or self._steps > 0))

    def _forget(self) -> None:
        self._items.clear()
        self._bytes = 0
