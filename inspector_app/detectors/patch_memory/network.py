"""The TensorFlow part of the patch-memory family: patch features and nearest-neighbour distances.

Both run as ``tf.function`` graphs with a fixed input signature (batch × tile × tile × 3), so a frame never
triggers retracing and batch-1 inference pays no ``model.predict`` overhead. Patch features are two backbone
maps, each averaged over a small neighbourhood (so a patch also describes its surroundings), the deeper one
resized to the shallower one's grid, concatenated. Distances to the memory bank use
``|a|² − 2ab + |b|²`` with one matrix product per bank chunk; callers bound the query batch so the distance
matrix stays small.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from inspector_app.detectors.common import runtime
from inspector_app.detectors.backbones import build_feature_extractor

log = logging.getLogger(__name__)

#: Largest distance matrix (queries × bank rows) computed in one go: 32 Mi floats = 128 MiB.
MAX_DISTANCE_ELEMENTS = 1 << 25
#: Bank rows per matrix product inside the graph.
BANK_CHUNK = 16384


class PatchNetwork:
    """Backbone plus patch-feature aggregation, and the memory-bank search once a bank is set."""

    def __init__(self, backbone: str, layers: list[str], tile: int, neighbourhood: int, weights_dir: str = "") -> None:
        tf = runtime.tensorflow()
        self.tile = int(tile)
        self.neighbourhood = int(neighbourhood)
        self._extractor = build_feature_extractor(backbone, tuple(layers), weights_dir or None)
        spec = tf.TensorSpec([None, self.tile, self.tile, 3], tf.float32)
        self._features_fn = tf.function(self._features_graph, input_signature=[spec])
        self._bank: Any = None
        self._bank_sq: Any = None
        self._score_fn: Any = None
        probe = self._features_fn(np.zeros((1, self.tile, self.tile, 3), np.float32))
        self.grid: tuple[int, int] = (int(probe.shape[1]), int(probe.shape[2]))
        self.dims = int(probe.shape[3])

    @property
    def extractor(self) -> Any:
        """The pretrained Keras backbone (tiles in RGB 0..255 → two feature maps); what export saves."""
        return self._extractor

    @property
    def features_function(self) -> Any:
        """Tiles (RGB 0..255) → N×h×w×D patch features, the graph that ``features`` runs; what export converts."""
        return self._features_graph

    @property
    def patches_per_tile(self) -> int:
        """Patch features per tile (feature grid height × width)."""
        return self.grid[0] * self.grid[1]

    # -- graphs -------------------------------------------------------------------------------------------
    def _features_graph(self, x: Any) -> Any:
        tf = runtime.tensorflow()
        shallow, deep = self._extractor(x, training=False)
        if self.neighbourhood > 1:
            shallow = tf.nn.avg_pool2d(shallow, self.neighbourhood, 1, "SAME")
            deep = tf.nn.avg_pool2d(deep, self.neighbourhood, 1, "SAME")
        deep = tf.image.resize(deep, tf.shape(shallow)[1:3], method="bilinear")
        return tf.concat([shallow, deep], axis=-1)

    def _score_graph(self, x: Any) -> Any:
        tf = runtime.tensorflow()
        features = self._features_graph(x)
        shape = tf.shape(features)
        queries = tf.reshape(features, [-1, self.dims])
        query_sq = tf.reduce_sum(tf.square(queries), axis=1, keepdims=True)
        nearest = None
        for bank, bank_sq in zip(self._bank, self._bank_sq, strict=True):
            distances = query_sq - 2.0 * tf.matmul(queries, bank, transpose_b=True) + bank_sq[None, :]
            chunk_min = tf.reduce_min(distances, axis=1)
            nearest = chunk_min if nearest is None else tf.minimum(nearest, chunk_min)
        return tf.reshape(tf.sqrt(tf.maximum(nearest, 0.0)), shape[:3])

    # -- numpy API ----------------------------------------------------------------------------------------
    def features(self, tiles: np.ndarray) -> np.ndarray:
        """Patch features of float32 tiles (N×tile×tile×3, RGB 0..255) → N×h×w×D float32."""
        return self._features_fn(np.asarray(tiles, np.float32)).numpy()

    def set_bank(self, bank: np.ndarray) -> None:
        """Use ``bank`` (M×D float32) as the memory of normal patches."""
        tf = runtime.tensorflow()
        bank = np.ascontiguousarray(bank, np.float32)
        if bank.ndim != 2 or bank.shape[1] != self.dims or len(bank) == 0:
            msg = f"memory bank must be M×{self.dims} with M > 0, got {bank.shape}"
            raise ValueError(msg)
        chunks = [bank[i : i + BANK_CHUNK] for i in range(0, len(bank), BANK_CHUNK)]
        self._bank = [tf.constant(c) for c in chunks]
        self._bank_sq = [tf.constant(np.einsum("ij,ij->i", c, c)) for c in chunks]
        spec = tf.TensorSpec([None, self.tile, self.tile, 3], tf.float32)
        self._score_fn = tf.function(self._score_graph, input_signature=[spec])

    def patch_scores_without(self, tiles: np.ndarray, bank: np.ndarray, left_out: np.ndarray) -> np.ndarray:
        """As :meth:`patch_scores`, against ``bank`` (M×D) with the rows ``left_out`` ignored: out-of-fold
        scoring of a training image, whose own patches must not be its nearest neighbours."""
        features = self.features(tiles)
        queries = features.reshape(-1, self.dims)
        query_sq = np.einsum("ij,ij->i", queries, queries)[:, None]
        nearest = np.full(len(queries), np.inf, np.float32)
        for start in range(0, len(bank), BANK_CHUNK):
            chunk = bank[start : start + BANK_CHUNK]
            distances = query_sq - 2.0 * (queries @ chunk.T) + np.einsum("ij,ij->i", chunk, chunk)[None, :]
            own = left_out[(left_out >= start) & (left_out < start + len(chunk))] - start
            distances[:, own] = np.inf
            np.minimum(nearest, distances.min(axis=1), out=nearest)
        return np.sqrt(np.maximum(nearest, 0.0)).reshape(features.shape[:3])

    def patch_scores(self, tiles: np.ndarray) -> np.ndarray:
        """Distance of every patch to its nearest bank member: N×tile×tile×3 → N×h×w float32."""
        if self._score_fn is None:
            msg = "patch memory has no bank yet: fit or load the model first"
            raise RuntimeError(msg)
        tiles = np.asarray(tiles, np.float32)
        rows = min(sum(int(b.shape[0]) for b in self._bank), BANK_CHUNK)
        per_call = max(1, MAX_DISTANCE_ELEMENTS // (self.patches_per_tile * rows))
        out = [self._score_fn(tiles[i : i + per_call]).numpy() for i in range(0, len(tiles), per_call)]
        return np.concatenate(out) if out else np.zeros((0, *self.grid), np.float32)
