"""``inspector-app bench --soak N``: N frames through the window's reader and inference worker, for a shift's worth
of frames; prints resident memory at the start and every 10 %, and the 95th-percentile latency of each tenth.

The pipeline is the window's own: a looping ``FolderSource`` read by a ``SourceReader`` thread into the worker's
mailbox, every frame inspected (none dropped), the model loaded by the worker's own loader in its thread. Only
painting is left out (``bench --stream`` measures that): what must not grow over 100,000 frames is the reading,
decoding, inference and result hand-off. Results are taken in the worker thread (a direct connection), so the
main thread only waits and prints.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import psutil
from PySide6.QtCore import QCoreApplication, Qt

from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import FolderSource
from inspector_app.gui.inference_worker import InferenceWorker
from inspector_app.gui.inspection.source_reader import SourceReader

TENTHS = 10


class _Tenths:
    """Counts results in the worker thread and closes a tenth (RSS, p95 latency, rate) at each 10 % boundary."""

    def __init__(self, frames: int, done: queue.Queue) -> None:
        self.frames = frames
        self.boundaries = [round(k * frames / TENTHS) for k in range(1, TENTHS + 1)]
        self.count = 0
        self.latencies: list[float] = []
        self.done = done
        self.process = psutil.Process()
        self.started = time.perf_counter()
        self.finished = threading.Event()

    def add(self, results: list[Any]) -> None:
        for result in results:
            if self.count >= self.frames:
                return
            self.count += 1
            self.latencies.append(result.latency_ms)
            if self.count == self.boundaries[0]:
                self._close_tenth()

    def _close_tenth(self) -> None:
        now = time.perf_counter()
        self.done.put({"frames": self.count, "rss_mb": self.process.memory_info().rss / 2**20,
                       "p95_ms": float(np.percentile(self.latencies, 95)),
                       "median_ms": float(np.median(self.latencies)),
                       "frames_per_s": len(self.latencies) / max(now - self.started, 1e-9)})
        self.latencies, self.started = [], now
        self.boundaries.pop(0)
        if not self.boundaries:
            self.finished.set()


def stream_folder(files: list[Path]) -> Path:
    """A temporary folder holding copies of ``files``, for the looping folder source."""
    folder = Path(tempfile.mkdtemp(prefix="inspector-soak-"))
    for i, path in enumerate(files):
        shutil.copy(path, folder / f"{i:05d}{path.suffix.lower()}")
    return folder


def run_soak(store: ModelStore, ref: ModelRef, files: list[Path], frames: int,
             report: Callable[[str], None] = print, loader: Callable[[ModelStore, ModelRef], Any] | None = None,
             ) -> dict[str, Any]:
    """Stream ``frames`` frames of ``files`` (looped) through the reader and worker; print and return the figures.

    ``loader`` replaces the worker's own model loader (tests pass a fake model)."""
    if frames < TENTHS:
        msg = f"--soak needs at least {TENTHS} frames, got {frames}"
        raise ValueError(msg)
    _app = QCoreApplication.instance() or QCoreApplication([])  # QThreads need an application object
    folder = stream_folder(files)
    process = psutil.Process()
    worker = InferenceWorker(store) if loader is None else InferenceWorker(store, loader)
    loaded = threading.Event()
    failed: list[str] = []
    worker.model_loaded.connect(lambda _model: loaded.set(), Qt.ConnectionType.DirectConnection)
    worker.model_failed.connect(lambda text: (failed.append(text), loaded.set()), Qt.ConnectionType.DirectConnection)
    tenths: queue.Queue = queue.Queue()
    counter = _Tenths(frames, tenths)
    worker.results.connect(counter.add, Qt.ConnectionType.DirectConnection)
    worker.request_model(ref)
    worker.start()
    reader = None
    rows: list[dict[str, Any]] = []
    try:
        loaded.wait(600)
        if failed or worker.model is None:
            msg = f"model {ref} did not load: {failed[0] if failed else 'timed out'}"
            raise RuntimeError(msg)
        start = {"frames": 0, "rss_mb": process.memory_info().rss / 2**20}
        report(f"soak: {frames:,} frames of {len(files)} images from {files[0].parent} through the reader and worker, "
               f"model {ref}")
        report(f"{'frames':>10} {'RSS MiB':>9} {'p95 ms':>8} {'median ms':>10} {'frames/s':>9}")
        report(f"{0:>10,} {start['rss_mb']:>9.1f} {'':>8} {'':>10} {'':>9}   (model loaded, before the first frame)")
        counter.started = time.perf_counter()
        reader = SourceReader(FolderSource(folder, loop=True), worker.mailbox, 0, wait_for_worker=True)
        reader.start()
        while len(rows) < TENTHS:
            try:
                row = tenths.get(timeout=1.0)
            except queue.Empty:
                if not reader.isRunning():
                    msg = "the folder source ended before the soak finished"
                    raise RuntimeError(msg) from None
                continue
            rows.append(row)
            report(f"{row['frames']:>10,} {row['rss_mb']:>9.1f} {row['p95_ms']:>8.2f} {row['median_ms']:>10.2f} "
                   f"{row['frames_per_s']:>9.1f}")
    finally:
        if reader is not None:
            reader.stop()
            reader.wait(10000)
        worker.stop()
        worker.wait(10000)
        shutil.rmtree(folder, ignore_errors=True)
    first_tenth, last = rows[0], rows[-1]
    p95 = [r["p95_ms"] for r in rows]
    summary = {
        "frames": frames, "images": len(files), "model": str(ref),
        "rss_start_mb": round(start["rss_mb"], 1), "rss_after_first_tenth_mb": round(first_tenth["rss_mb"], 1),
        "rss_end_mb": round(last["rss_mb"], 1),
        "rss_growth_mb": round(last["rss_mb"] - start["rss_mb"], 1),
        "rss_growth_after_first_tenth_mb": round(last["rss_mb"] - first_tenth["rss_mb"], 1),
        "p95_ms_per_tenth": [round(v, 2) for v in p95],
        "p95_spread_ms": round(max(p95) - min(p95), 2),
        "tenths": rows,
    }
    report(f"RSS growth: {summary['rss_growth_mb']:+.1f} MiB from the start, "
           f"{summary['rss_growth_after_first_tenth_mb']:+.1f} MiB after the first tenth; "
           f"p95 per tenth {min(p95):.2f}..{max(p95):.2f} ms")
    return summary
