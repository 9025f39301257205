"""A one-slot "latest item" mailbox between a frame reader and the inference worker.

A slow model must never build a queue of stale frames: ``put`` replaces what is waiting and counts it as
dropped. For a folder inspected as fast as the model allows (no frame rate set), ``put(block=True)`` waits
for the slot instead, so every image gets exactly one verdict.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestMailbox(Generic[T]):
    def __init__(self) -> None:
        self._item: T | None = None
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0

    def put(self, item: T, block: bool = False, timeout: float | None = None) -> bool:
        """Offer an item; returns False if the mailbox closed (or a blocking put timed out)."""
        with self._cond:
            if block:
                if not self._cond.wait_for(lambda: self._item is None or self._closed, timeout):
                    return False
            if self._closed:
                return False
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()
            return True

    def take(self, timeout: float | None = None) -> T | None:
        """The newest item, or None after ``timeout`` seconds (or once closed)."""
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed, timeout)
            item, self._item = self._item, None
            self._cond.notify_all()
            return item

    def clear(self) -> None:
        """Forget a waiting item without counting it as dropped (a source or model switch)."""
        with self._cond:
            self._item = None
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._item = None
