"""Which CPU cores run inference and which one is kept for reading frames.

A thread count alone does not keep the two apart: unpinned, the reader's short decoding bursts wake up on the
core TensorFlow computes on and slow the stream (figures in ``docs/performance.md``). The GUI thread stays
unpinned: it is mostly idle and must never wait for a busy core.

Pinning uses ``os.sched_setaffinity``, which on Linux applies to the calling thread; threads started later
by that thread (TensorFlow's compute pool, for one) inherit its cores. Where it is missing (macOS, Windows),
with a single usable core, or with ``INSPECTOR_APP_PIN_CORES=0``, nothing is pinned and the scheduler decides.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

log = logging.getLogger(__name__)

Role = Literal["inference", "reader"]


@dataclass(frozen=True)
class CoreSplit:
    """Cores for the inference worker and its TensorFlow threads, and the core kept for the frame reader."""

    inference: frozenset[int]
    reader: frozenset[int]


def split_cores(allowed: set[int] | frozenset[int]) -> CoreSplit | None:
    """Keep the highest-numbered usable core for the reader, the rest for inference; None below two cores."""
    if len(allowed) < 2:
        return None
    reader = max(allowed)
    return CoreSplit(frozenset(allowed) - {reader}, frozenset({reader}))


@lru_cache(maxsize=1)
def core_split() -> CoreSplit | None:
    """This process's split, decided once (from the cores the process may use when first asked)."""
    if os.environ.get("INSPECTOR_APP_PIN_CORES", "1").strip() == "0":
        return None
    if not hasattr(os, "sched_getaffinity") or not hasattr(os, "sched_setaffinity"):
        return None
    # The main thread's cores (its thread id is the process id): the calling thread may already be pinned.
    return split_cores(os.sched_getaffinity(os.getpid()))


def place_current_thread(role: Role) -> bool:
    """Pin the calling thread to the cores of ``role``; False where there is no split or the OS refused."""
    split = core_split()
    if split is None:
        return False
    cores = split.inference if role == "inference" else split.reader
    try:
        os.sched_setaffinity(0, cores)
    except OSError as exc:  # a cgroup that changed under us, a sandbox that forbids it: run unpinned
        log.info("could not pin the %s thread to cores %s: %s", role, sorted(cores), exc)
        return False
    return True
