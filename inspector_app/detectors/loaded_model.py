"""A model version ready to inspect: the detector plus the calibration from its ``meta.json``.

The CLI's ``infer``/``evaluate``/``bench`` and the GUI's inference worker all go through this, so a verdict
means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector_app.core.calibration import Calibration, MapKind
from inspector_app.core.errors import ModelStoreError
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.detectors.base import Detector
from inspector_app.detectors.registry import detector_class


@dataclass
class Inspection:
    """Verdicts for a batch: raw and normalised scores (1.0 = threshold), normalised maps, fail flags."""

    scores: np.ndarray
    normalised_scores: np.ndarray
    maps: np.ndarray
    failed: np.ndarray


class LoadedModel:
    """A detector and its calibration, loaded from the model store."""

    def __init__(self, ref: ModelRef, meta: dict[str, Any], detector: Detector) -> None:
        self.ref = ref
        self.meta = meta
        self.detector = detector
        self.calibration = Calibration.from_json(meta["calibration"])

    @classmethod
    def load(cls, store: ModelStore, ref: ModelRef) -> LoadedModel:
        """Load a version; any failure becomes a ModelStoreError that says which model and why."""
        meta = store.meta(ref)
        try:
            Calibration.from_json(meta["calibration"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelStoreError(f"model {ref} is broken: its calibration in meta.json is incomplete ({exc})") from None
        try:
            family = detector_class(meta["family"])
        except ValueError as exc:
            raise ModelStoreError(f"model {ref}: {exc}") from None
        try:
            detector = family.load(store.folder(ref), meta["config"])
        except ModelStoreError as exc:  # from the family's file checks: say which model it is
            raise ModelStoreError(f"model {ref}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any loader failure is reported, never crashes the caller
            msg = f"model {ref} could not be loaded: {type(exc).__name__}: {exc}"
            raise ModelStoreError(msg) from exc
        return cls(ref, meta, detector)

    @property
    def family(self) -> str:
        return str(self.meta["family"])

    @property
    def map_kind(self) -> MapKind:
        """How the maps were scaled and should be drawn (contours for a mask, else a heatmap)."""
        return self.calibration.map_kind

    def set_threshold(self, threshold: float) -> None:
        self.calibration = self.calibration.with_threshold(threshold)

    def inspect(self, images: np.ndarray) -> Inspection:
        out = self.detector.infer(images)
        return Inspection(
            scores=out.scores,
            normalised_scores=self.calibration.normalise_scores(out.scores),
            maps=self.calibration.normalise_maps(out.maps),
            failed=self.calibration.verdicts(out.scores),
        )
