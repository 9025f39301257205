"""Speed and memory figures, printed rather than asserted (tests check behaviour, benchmarks measure)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import psutil

from inspector_app.detectors.loaded_model import LoadedModel


def resident_mb() -> float:
    """This process's resident memory in MiB."""
    return psutil.Process().memory_info().rss / 2**20


def bench_model(model: LoadedModel, images: np.ndarray, repeats: int = 50, warmup: int = 3) -> dict[str, Any]:
    """Model-only latency at batch 1 (median, p95) and throughput at batch 8, on the same images."""
    if len(images) == 0:
        msg = "bench needs at least one image"
        raise ValueError(msg)
    for i in range(warmup):
        model.inspect(images[i % len(images)][None])
    model.inspect(images[:8] if len(images) >= 8 else np.repeat(images[:1], 8, axis=0))
    latencies = []
    for i in range(repeats):
        image = images[i % len(images)][None]
        started = time.perf_counter()
        model.inspect(image)
        latencies.append((time.perf_counter() - started) * 1000)
    batch = np.stack([images[i % len(images)] for i in range(8)])
    rounds = max(2, repeats // 8)
    started = time.perf_counter()
    for _ in range(rounds):
        model.inspect(batch)
    elapsed = time.perf_counter() - started
    return {
        "model": str(model.ref),
        "image_shape": list(images.shape[1:]),
        "batch1_median_ms": float(np.median(latencies)),
        "batch1_p95_ms": float(np.percentile(latencies, 95)),
        "batch1_images_per_s": float(1000 / np.median(latencies)),
        "batch8_images_per_s": float(8 * rounds / elapsed),
        "resident_mb": round(resident_mb(), 1),
    }
