"""Greedy k-center coreset: a small memory bank that still covers every normal patch feature.

PatchCore keeps the patch features that greedy farthest-point selection picks: each new member is the patch
farthest from the members chosen so far, so no normal patch is left far from its nearest member. Distances
are measured after a random projection to a few dimensions (Johnson-Lindenstrauss: distances are roughly
kept) because the selection is a long sequential loop whose every step reads all candidates.

One global loop over ~500k candidates costs about 9 ms a step on two cores (memory bound), minutes for a 1 %
coreset. The candidates are therefore shuffled and split into chunks that fit the CPU cache; each chunk
chooses its share of the members. Every candidate is still within its own chunk's covering radius of a
member, and the selection is many times faster (the cost falls with the number of chunks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)


def random_projection(features: np.ndarray, dims: int, seed: int, batch: int = 65536) -> np.ndarray:
    """Gaussian random projection to ``dims`` dimensions (features unchanged when they have no more)."""
    features = np.asarray(features, np.float32)
    if dims <= 0 or features.shape[1] <= dims:
        return features
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((features.shape[1], dims)).astype(np.float32) / np.sqrt(dims)
    out = np.empty((len(features), dims), np.float32)
    for start in range(0, len(features), batch):
        np.matmul(features[start : start + batch], matrix, out=out[start : start + batch])
    return out


def greedy_k_center(
    points: np.ndarray, count: int, start: int = 0, should_stop: Callable[[], bool] | None = None
) -> np.ndarray:
    """Indices of ``count`` points chosen by farthest-point selection, beginning with ``start``.

    Args:
        points: Candidates, n×d float32.
        count: How many to choose (at most n).
        start: Index of the first member.
        should_stop: Checked every 256 steps; selection ends early (fewer members) when it returns True.
    """
    n = len(points)
    count = int(min(max(count, 0), n))
    if count == 0:
        return np.zeros(0, np.int64)
    squared = np.einsum("ij,ij->i", points, points)
    nearest = np.full(n, np.inf, np.float32)
    step = np.empty(n, np.float32)
    chosen = np.empty(count, np.int64)
    index = int(start) % n
    for k in range(count):
        chosen[k] = index
        centre = points[index]
        np.matmul(points, centre, out=step)
        step *= -2.0
        step += squared
        step += float(squared[index])
        np.minimum(nearest, step, out=nearest)
        index = int(np.argmax(nearest))
        if should_stop is not None and k % 256 == 255 and should_stop():
            return chosen[: k + 1]
    return chosen


def coreset_indices(
    features: np.ndarray,
    count: int,
    *,
    projection_dims: int = 128,
    chunk_size: int = 100_000,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Indices (sorted) of about ``count`` features that cover all of ``features``.

    Args:
        features: n×D patch features.
        count: Members wanted in total.
        projection_dims: Dimensions of the random projection used for distances (0 = none).
        chunk_size: Largest number of candidates per greedy loop.
        seed: Seed of the projection, the shuffle and the first members.
        progress: Called with the fraction done after each chunk.
        should_stop: Cooperative cancel, checked inside the loops.
    """
    n = len(features)
    count = int(min(max(count, 1), n))
    if count >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    projected = random_projection(features, projection_dims, seed)
    chunks = max(1, int(np.ceil(n / max(chunk_size, 1))))
    order = rng.permutation(n)
    selected = []
    for c, part in enumerate(np.array_split(order, chunks)):
        share = max(1, int(round(count * len(part) / n)))
        local = greedy_k_center(np.ascontiguousarray(projected[part]), share, int(rng.integers(len(part))), should_stop)
        selected.append(part[local])
        if progress is not None:
            progress((c + 1) / chunks)
        if should_stop is not None and should_stop():
            break
    indices = np.unique(np.concatenate(selected))
    log.debug("coreset: %d of %d features in %d chunk(s)", len(indices), n, chunks)
    return indices
