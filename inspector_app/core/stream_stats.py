"""Running counters for the inspection window: verdict counts, frame rate, latency and dropped frames."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StatsSnapshot:
    inspected: int
    passed: int
    failed: int
    dropped: int
    skipped: int
    fps: float
    latency_avg_ms: float
    latency_p95_ms: float
    #: Same window as the p95: the average can sit above the p95 when a few frames are very slow (a model's
    #: first, traced call), so the panel shows the median beside the p95.
    latency_median_ms: float = 0.0

    @property
    def fail_percent(self) -> float:
        return 100.0 * self.failed / self.inspected if self.inspected else 0.0


class StreamStats:
    """Counts since the last reset; rates over a sliding window of recent frames."""

    def __init__(self, window: int = 200) -> None:
        self._latencies: deque[float] = deque(maxlen=window)
        self._times: deque[float] = deque(maxlen=window)
        self.reset()

    def reset(self) -> None:
        self.inspected = self.passed = self.failed = self.dropped = self.skipped = 0
        self._latencies.clear()
        self._times.clear()

    def add(self, failed: bool, latency_ms: float, now: float | None = None) -> None:
        self.inspected += 1
        if failed:
            self.failed += 1
        else:
            self.passed += 1
        self._latencies.append(latency_ms)
        self._times.append(time.monotonic() if now is None else now)

    def snapshot(self) -> StatsSnapshot:
        fps = 0.0
        if len(self._times) >= 2 and self._times[-1] > self._times[0]:
            fps = (len(self._times) - 1) / (self._times[-1] - self._times[0])
        lat = np.array(self._latencies) if self._latencies else np.zeros(1)
        return StatsSnapshot(
            self.inspected, self.passed, self.failed, self.dropped, self.skipped, fps,
            float(lat.mean()), float(np.percentile(lat, 95)), float(np.median(lat)),
        )
