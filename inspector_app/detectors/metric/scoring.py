"""How far an embedding lies from the normal ones: the numpy/scikit-learn scoring after the network.

The scorer keeps the L2-normalised embeddings of the good training images (a plain array, saved as
``.npy``) and rebuilds everything else from them, so a saved model holds no pickled estimator:

- ``lof``: the local outlier factor of the embedding among the normal ones (scikit-learn's
  ``LocalOutlierFactor`` in novelty mode, refitted on load; deterministic for the same array). About 1 for
  an embedding as dense as its neighbours, higher the sparser its surroundings;
- ``nearest``: 1 − the highest cosine similarity to any normal embedding;
- ``centre``: 1 − the cosine similarity to the normal embeddings' mean direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCORINGS = ("lof", "nearest", "centre")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (float32)."""
    vectors = np.asarray(vectors, np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class EmbeddingScorer:
    """Scores embeddings by ``method`` against the normal embeddings it was given."""

    def __init__(self, method: str, normal: np.ndarray, neighbours: int = 20) -> None:
        if method not in SCORINGS:
            msg = f"unknown scoring {method!r}; known: {', '.join(SCORINGS)}"
            raise ValueError(msg)
        normal = unit_rows(normal)
        if normal.ndim != 2 or len(normal) < 2:
            msg = f"scoring needs at least two normal embeddings, got an array of shape {normal.shape}"
            raise ValueError(msg)
        self.method = method
        self.normal = normal
        centre = normal.mean(axis=0)
        self.centre = centre / max(float(np.linalg.norm(centre)), 1e-12)
        self._lof: Any = None
        if method == "lof":
            from sklearn.neighbors import LocalOutlierFactor  # noqa: PLC0415 - seconds to import; only when used

            self._lof = LocalOutlierFactor(n_neighbors=max(1, min(int(neighbours), len(normal) - 1)), novelty=True)
            self._lof.fit(normal.astype(np.float64))

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        """One anomaly score per embedding (N×D, normalised here); higher is less normal."""
        unit = unit_rows(embeddings)
        if len(unit) == 0:
            return np.zeros(0, np.float32)
        if self.method == "lof":
            return (-self._lof.score_samples(unit.astype(np.float64))).astype(np.float32)
        if self.method == "nearest":
            return (1.0 - (unit @ self.normal.T).max(axis=1)).astype(np.float32)
        return (1.0 - unit @ self.centre).astype(np.float32)
