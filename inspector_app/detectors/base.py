"""The one interface every model family implements, so the CLI, the worker and the GUI treat them alike.

A detector turns uint8 images (N×H×W×3) into raw anomaly scores (N,) and raw maps (N×H×W, at input
resolution). Threshold and normalisation are *not* part of the detector: they live in the model's
``meta.json`` (see :mod:`inspector_app.core.calibration`), so moving the threshold never touches the network.
"""

from __future__ import annotations

import abc
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from inspector_app.core.labels import DEFECT, GOOD, MASK  # data a family can learn from; ``needs`` is a subset


@dataclass
class TrainingData:
    """Images for one training run, all uint8 RGB at one size (the dataset loader resizes them).

    ``val_*`` images are held out from fitting and used for early stopping and calibration.
    """

    good: np.ndarray
    val_good: np.ndarray
    defect: np.ndarray | None = None
    defect_masks: np.ndarray | None = None
    val_defect: np.ndarray | None = None
    val_defect_masks: np.ndarray | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def available(self) -> set[str]:
        """Which kinds of data this set has, to compare with a family's ``needs``."""
        kinds = {GOOD} if len(self.good) else set()
        if self.defect is not None and len(self.defect):
            kinds.add(DEFECT)
            if self.defect_masks is not None and len(self.defect_masks) == len(self.defect):
                kinds.add(MASK)
        return kinds


@dataclass
class Inference:
    """Raw detector output: one score per image and one map per image at the input's resolution."""

    scores: np.ndarray
    maps: np.ndarray


@dataclass
class FitReport:
    """What happened during fit: epochs run, loss history and anything family-specific worth keeping."""

    epochs_run: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


class Progress:
    """Progress reporting and cooperative cancel, shared by the CLI, the JSON-lines job and tests.

    Families call ``progress(stage=..., epoch=..., epochs=..., loss=..., ...)`` and check ``should_stop()``
    between steps. ``stop()`` may be called from a signal handler or another thread.
    """

    def __init__(self, sink: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._sink = sink
        self._stop = threading.Event()

    def __call__(self, **fields: Any) -> None:
        if self._sink is not None:
            self._sink(fields)

    def stop(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()


class Detector(abc.ABC):
    """Base class of every model family.

    Subclasses set the class attributes and implement the four methods. ``config`` holds every
    hyper-parameter; it is saved in ``meta.json`` and given back to ``load``.
    """

    kind: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    needs: ClassVar[frozenset[str]] = frozenset({GOOD})
    #: The map is a defect-mask probability rather than an anomaly heatmap (drawn as contours).
    map_is_mask: ClassVar[bool] = False

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        unknown = set(config or {}) - set(self.default_config())
        if unknown:
            msg = f"{self.kind}: unknown settings {sorted(unknown)}; known: {sorted(self.default_config())}"
            raise ValueError(msg)
        self.config: dict[str, Any] = {**self.default_config(), **(config or {})}

    @classmethod
    @abc.abstractmethod
    def default_config(cls) -> dict[str, Any]:
        """Settings that work out of the box for this family."""

    @property
    def image_size(self) -> int:
        return int(self.config["image_size"])

    @abc.abstractmethod
    def fit(self, data: TrainingData, progress: Progress) -> FitReport:
        """Learn from ``data``; raise :class:`~inspector_app.core.errors.TrainingCancelled` on stop."""

    @abc.abstractmethod
    def infer(self, images: np.ndarray) -> Inference:
        """uint8 N×H×W×3 → raw scores (N,) and raw maps (N×H×W) at the input's resolution."""

    @abc.abstractmethod
    def save(self, folder: Path) -> None:
        """Write the family's files into ``folder`` (which exists and is empty)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> Detector:
        """Rebuild a detector from ``folder`` without running arbitrary code (no pickle, safe mode)."""

    def infer_batched(self, images: np.ndarray, batch_size: int = 8) -> Inference:
        """``infer`` over a large array in chunks, so memory stays bounded."""
        scores, maps = [], []
        for start in range(0, len(images), batch_size):
            out = self.infer(images[start : start + batch_size])
            scores.append(out.scores)
            maps.append(out.maps)
        if not scores:
            return Inference(np.zeros(0, np.float32), np.zeros((0, *images.shape[1:3]), np.float32))
        return Inference(np.concatenate(scores), np.concatenate(maps))
