"""Threshold and normalisation: turning a detector's raw scores into a verdict and one colour scale.

The threshold is chosen from held-out *good* scores alone (``mean + k·σ`` or a high percentile, whichever is
higher, so a handful of good images cannot give a threshold below the observed good scores), or by best F1
when validation defects exist. Scores and maps are then shown normalised so that 0 is a typical good part and
1.0 is the threshold, for every family and every frame alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


DEFAULT_SIGMAS = 3.0
DEFAULT_PERCENTILE = 99.5
#: A mask probability at or above this is drawn inside the defect's contour.
MASK_LEVEL = 0.5
#: An explanation map's scale: this percentile of the validation maps is drawn at 1.0.
EXPLANATION_PERCENTILE = 99.0


class MapKind(StrEnum):
    """What a detector's map means; each kind is put on the one colour scale (1.0 = notable) its own way."""

    ANOMALY = "anomaly"  # score units: 0 is a typical good pixel, 1.0 the threshold; drawn as a heatmap
    MASK = "mask"  # a defect probability; 1.0 is MASK_LEVEL; drawn as contours
    EXPLANATION = "explanation"  # arbitrary units (CAM, Grad-CAM); 1.0 is a fixed percentile from validation


@dataclass
class Calibration:
    """Everything needed to turn raw output into a verdict; stored in ``meta.json``."""

    threshold: float
    score_low: float
    map_low: float
    method: str
    details: dict[str, Any] = field(default_factory=dict)
    map_kind: MapKind = MapKind.ANOMALY
    #: What 1.0 on the map's scale stands for, for masks and explanations (anomaly maps follow the threshold).
    map_scale: float = 1.0

    def normalise_scores(self, scores: np.ndarray | float) -> np.ndarray:
        """0 = typical good part, 1.0 = the threshold."""
        span = max(self.threshold - self.score_low, 1e-12)
        return (np.asarray(scores, np.float32) - self.score_low) / span

    def normalise_maps(self, maps: np.ndarray) -> np.ndarray:
        """One fixed scale for every frame, never per-image min-max: 1.0 is the threshold for an anomaly map,
        the contour level for a mask, the validation reference for an explanation."""
        high = self.threshold if self.map_kind == MapKind.ANOMALY else self.map_low + self.map_scale
        span = max(high - self.map_low, 1e-12)
        return np.clip((np.asarray(maps, np.float32) - self.map_low) / span, 0.0, None)

    def verdicts(self, scores: np.ndarray) -> np.ndarray:
        """True where the part fails (score at or above the threshold)."""
        return np.asarray(scores) >= self.threshold

    def with_threshold(self, threshold: float, method: str = "manual") -> Calibration:
        """A copy with a threshold the operator chose (the score histogram's slider)."""
        return Calibration(float(threshold), self.score_low, self.map_low, method, dict(self.details),
                           self.map_kind, self.map_scale)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "map_kind": str(self.map_kind)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            threshold=float(data["threshold"]),
            score_low=float(data["score_low"]),
            map_low=float(data["map_low"]),
            method=str(data["method"]),
            details=dict(data.get("details", {})),
            map_kind=MapKind(data.get("map_kind", MapKind.ANOMALY)),  # versions saved before map kinds: anomaly
            map_scale=float(data.get("map_scale", 1.0)),
        )


def calibrate(
    good_scores: np.ndarray,
    good_maps: np.ndarray,
    defect_scores: np.ndarray | None = None,
    sigmas: float = DEFAULT_SIGMAS,
    percentile: float = DEFAULT_PERCENTILE,
    map_kind: MapKind = MapKind.ANOMALY,
    defect_maps: np.ndarray | None = None,
) -> Calibration:
    """Choose a threshold from validation scores and the map's scale for its kind.

    An anomaly map's zero is the median good pixel; a mask's scale is fixed (0 to MASK_LEVEL); an
    explanation's is a high percentile of every validation map, good and defect.
    """
    from inspector_app.core.metrics import best_f1_threshold  # noqa: PLC0415 - scikit-learn takes seconds to import

    good_scores = np.asarray(good_scores, np.float64)
    if good_scores.size == 0:
        msg = "calibration needs at least one held-out good image, got none"
        raise ValueError(msg)
    score_low = float(np.median(good_scores))
    map_low = float(np.median(np.asarray(good_maps, np.float32))) if np.size(good_maps) else 0.0
    mean, std = float(good_scores.mean()), float(good_scores.std())
    from_sigma = mean + sigmas * std
    from_percentile = float(np.percentile(good_scores, percentile))
    details: dict[str, Any] = {
        "good_count": int(good_scores.size),
        "sigmas": sigmas,
        "percentile": percentile,
        "from_sigma": from_sigma,
        "from_percentile": from_percentile,
    }
    if defect_scores is not None and len(defect_scores):
        labels = np.r_[np.zeros(good_scores.size), np.ones(len(defect_scores))]
        threshold, f1 = best_f1_threshold(labels, np.r_[good_scores, np.asarray(defect_scores, np.float64)])
        details.update(defect_count=int(len(defect_scores)), best_f1=f1)
        method = "best F1 on held-out good and defect images"
    else:
        threshold = max(from_sigma, from_percentile)
        method = f"max(mean + {sigmas:g}σ, p{percentile:g}) of held-out good scores"
    # A threshold at or below the typical good score would make the normalised scale meaningless.
    if threshold <= score_low:
        threshold = score_low + max(std, abs(score_low) * 1e-3, 1e-6)
    map_low = min(map_low, threshold - 1e-6)
    if map_kind == MapKind.ANOMALY:
        return Calibration(float(threshold), score_low, map_low, method, details)
    if map_kind == MapKind.MASK:
        return Calibration(float(threshold), score_low, 0.0, method, details, map_kind, MASK_LEVEL)
    every_map = [np.ravel(m) for m in (good_maps, defect_maps) if m is not None and np.size(m)]
    reference = float(np.percentile(np.concatenate(every_map), EXPLANATION_PERCENTILE)) if every_map else 1.0
    return Calibration(float(threshold), score_low, 0.0, method, details, map_kind, max(reference, 1e-6))
