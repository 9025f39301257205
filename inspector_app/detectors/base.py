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

from inspector_app.core.calibration import MapKind
from inspector_app.core.labels import DEFECT, GOOD, MASK  # data a family can learn from; ``needs`` is a subset
from inspector_app.detectors.settings import Setting


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
    #: The defect type of each ``defect`` / ``val_defect`` image ("scratch", "hole", ...), for classifier heads.
    defect_types: list[str] = field(default_factory=list)
    val_defect_types: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def available(self) -> set[str]:
        """Which kinds of data this set has, to compare with a family's ``needs``."""
        kinds = {GOOD} if len(self.good) else set()
        if self.defect is not None and len(self.defect):
            kinds.add(DEFECT)
            if self.defect_masks is not None and len(self.defect_masks) == len(self.defect):
                kinds.add(MASK)
        return kinds


def checked_images(images: Any, who: str) -> np.ndarray:
    """The batch every ``infer`` takes, uint8 N×H×W×3, as an array; anything else is refused, naming the family."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        msg = f"{who} expects uint8 N×H×W×3 images, got {images.dtype} {images.shape}"
        raise ValueError(msg)
    return images


@dataclass
class Inference:
    """Raw detector output: one score per image and one map per image at the input's resolution."""

    scores: np.ndarray
    maps: np.ndarray


@dataclass(frozen=True)
class Preprocessing:
    """How a family turns a uint8 RGB image into its network's input: stored in ``meta.json`` so an exported
    network can be fed the same way outside the app."""

    size: tuple[int, int]  # height, width of the network's input (a tile's, when the family tiles)
    colour: str = "RGB"  # channel order; "grey" when the network takes one channel
    scale: str = "0..1"  # the value range of the input: "0..1" (divided by 255) or "0..255"
    resize: str = "area"  # how a larger image is brought to ``size``

    def to_json(self) -> dict[str, Any]:
        return {"size": list(self.size), "colour": self.colour, "scale": self.scale, "resize": self.resize}


@dataclass
class ExportParts:
    """What a line program needs to score exactly as the app does, without the app (see ``jobs/export.py``).

    ``networks`` are TensorFlow callables by role (a Keras model or a ``tf.function``), each taking one float32
    batch of ``input_shapes[role]`` (without the batch axis) and returning one tensor; they are converted to
    SavedModel or TFLite. ``arrays`` are saved beside them as ``NAME.npy``. ``scorer`` is the list of steps
    from the network input to the map and the score, in the vocabulary of
    ``inspector_app/resources/line_scoring.py`` (network, standardise, reconstruction_error, nearest_distance,
    resize_bilinear, stitch_tiles, gaussian_blur, largest_region_area, unit_rows, cosine_distance,
    local_outlier_factor, then score or score_value), which runs them with numpy alone; a family whose
    scoring needs a new kind of step adds it there. ``working_size`` is the side the image is resized to
    (``preprocessing().resize``) and ``tile_origins`` where the network's tiles start on both axes (``[0]``
    when the family does not tile).
    """

    networks: dict[str, Any]
    input_shapes: dict[str, tuple[int, ...]]
    arrays: dict[str, np.ndarray]
    scorer: list[dict[str, Any]]
    working_size: int
    tile_origins: list[int] = field(default_factory=lambda: [0])


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
    #: What the map means, which sets how it is scaled (see ``core.calibration``) and drawn.
    map_kind: ClassVar[MapKind] = MapKind.ANOMALY
    #: How the wizard shows the settings of ``default_config``, main ones first in this order.
    settings: ClassVar[dict[str, Setting]] = {}

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

    @classmethod
    def quick_config(cls) -> dict[str, Any]:
        """Settings that train in seconds on a CPU (small input, few epochs): for the contract test that every
        registered family must pass, and for a first try on new data."""
        return {}

    @classmethod
    def fit_to_image_size(cls, config: dict[str, Any], width: int, height: int,
                          defect_side: float | None = None) -> tuple[dict[str, Any], str]:
        """Settings for a dataset of ``width``×``height`` images, when the user chose none of the size settings,
        and a sentence saying what was chosen ("" when nothing changed). ``defect_side`` is how wide the labelled
        defects the run learns or calibrates from typically are, as a share of the image (None: unknown)."""
        return config, ""

    @classmethod
    def estimate_seconds(cls, config: dict[str, Any], images: int, defects: int | None = None) -> float | None:
        """Seconds per epoch (or for the whole fit, without epochs) on the reference 2-core CPU; None when the
        family has no measured constant for these settings (no made-up figure).

        ``images`` are the images one epoch learns from; ``defects`` how many of them are defects, for families
        whose epoch depends on it (None: not known, the family assumes the costliest mix)."""
        return None

    @classmethod
    def estimate_setup_seconds(cls, config: dict[str, Any], images: int) -> float:
        """Seconds spent once before the first epoch (a feature pass over the training set) on the reference
        CPU; 0 for families that go straight to their epochs."""
        return 0.0

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
    def preprocessing(self) -> Preprocessing:
        """What the network's input is; the same for every image this detector scores."""

    @abc.abstractmethod
    def networks(self) -> dict[str, Any]:
        """The fitted Keras models by role; what ``infer`` does after them is numpy, so export saves these
        together with the arrays ``save`` writes."""

    def export_parts(self) -> ExportParts:
        """The fitted networks, arrays and scoring steps for ``inspector-app export``. Every family must give
        them (the export test runs over the registry and fails for a family that does not)."""
        msg = f"the {self.kind} family cannot be exported yet: it does not implement Detector.export_parts"
        raise NotImplementedError(msg)

    def out_of_fold_scores(self, good: np.ndarray, progress: Progress) -> np.ndarray | None:
        """Scores of the good images just fitted on (``data.good``, same order), each from a model that did not
        learn from that image, so calibration can rest on every good image; None when the family has no cheap
        way, and calibration uses the held-out images alone."""
        return None

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
