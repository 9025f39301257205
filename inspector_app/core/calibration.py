"""Threshold and normalisation: turning a detector's raw scores into a verdict and one colour scale.

By default the threshold lets the chosen share of good parts fail (1 %), read from good scores the model did
not learn from (see :mod:`.operating_point`); with validation defects, best F1 or "catch X % of defects" can be
chosen instead. Scores and maps are then shown normalised so that 0 is a typical good part and 1.0 is the
threshold, for every family and every frame alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np


#: The share of good parts the calibrated threshold lets fail, unless the operator chooses another.
DEFAULT_FALSE_ALARM_RATE = 0.01
#: For the "catch" objective: the share of validation defects that must fail.
DEFAULT_CATCH_SHARE = 0.95
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


class Objective(StrEnum):
    """What the stored threshold is chosen for."""

    FALSE_ALARM_RATE = "false_alarm_rate"  # the operator's false-alarm budget, from good scores alone
    BEST_F1 = "best_f1"  # the best balance of misses and false alarms on validation defects
    CATCH = "catch"  # the highest threshold that still catches a share of the validation defects


def objective_threshold(objective: Objective, good_scores: np.ndarray, defect_scores: np.ndarray,
                        share: float, defect_share: float | None = None,
                        above: float | None = None) -> tuple[float, str, float | None] | None:
    """The threshold ``objective`` asks for on these scores, a sentence saying how it was found, and the F1
    there (best F1 only); None when the objective needs defect scores and there are none.

    ``share`` is the false-alarm rate for ``FALSE_ALARM_RATE`` and the share of defects to catch for ``CATCH``.
    ``defect_share`` weighs the good scores for best F1 so defects make that share of the total: F1 depends on
    how common defects are, and a good-only family's hundreds of held-out training images would otherwise
    push its threshold far above where it balances misses and false alarms on the labelled images.
    ``above`` keeps best F1 above the typical good score: a weak model's F1 can peak at failing nearly every
    part, a threshold the normalised scale cannot hold, and the best F1 above it is then the useful one.
    """
    # Imported here: scikit-learn and scipy take seconds, and the window needs only MapKind from this module.
    from inspector_app.core.metrics import best_f1_threshold  # noqa: PLC0415
    from inspector_app.core.operating_point import threshold_for_false_alarm_rate, threshold_to_catch  # noqa: PLC0415

    good = np.asarray(good_scores, np.float64)
    defects = np.asarray(defect_scores, np.float64)
    if objective == Objective.FALSE_ALARM_RATE:
        value, how = threshold_for_false_alarm_rate(good, share)
        return value, f"{100 * share:g} % false alarms: {how}", None
    if defects.size == 0:
        return None
    if objective == Objective.CATCH:
        return threshold_to_catch(defects, share), f"catch {100 * share:g} % of {defects.size} validation defects", None
    labels = np.r_[np.zeros(good.size), np.ones(defects.size)]
    weights, how = None, ""
    if defect_share is not None and 0.0 < defect_share < 1.0:
        good_weight = defects.size * (1.0 - defect_share) / (defect_share * good.size)
        weights = np.r_[np.full(good.size, good_weight), np.ones(defects.size)]
        how = f", weighed to {100 * defect_share:.0f} % defects as among the labelled images"
    value, f1 = best_f1_threshold(labels, np.r_[good, defects], weights, above)
    return value, f"best F1 on {good.size} good and {defects.size} defect validation images{how}", f1


def calibrate(
    good_scores: np.ndarray,
    good_maps: np.ndarray,
    defect_scores: np.ndarray | None = None,
    *,
    objective: Objective = Objective.FALSE_ALARM_RATE,
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    catch_share: float = DEFAULT_CATCH_SHARE,
    out_of_fold: bool = False,
    map_kind: MapKind = MapKind.ANOMALY,
    defect_maps: np.ndarray | None = None,
    defect_share: float | None = None,
) -> Calibration:
    """Choose the threshold for ``objective`` and the map's scale for its kind.

    Every objective's threshold is kept in ``details["thresholds"]`` (best F1 and catch only when defect
    scores exist), with the false-alarm and miss rates the stored one gives on these scores, so the wizard can
    offer the others and show what each costs. An objective that needs defects falls back to the false-alarm
    rate without them. An anomaly map's zero is the median good pixel; a mask's scale is fixed (0 to
    MASK_LEVEL); an explanation's is a high percentile of every validation map, good and defect.

    Args:
        good_scores: scores of good images the model did not learn from (out of fold, or held out).
        good_maps: their maps (or a sample), for the map's zero point.
        defect_scores: scores of validation defects, when there are any.
        objective: what the stored threshold is chosen for.
        false_alarm_rate: the share of good parts allowed to fail, for ``FALSE_ALARM_RATE``.
        catch_share: the share of defects that must fail, for ``CATCH``.
        out_of_fold: whether ``good_scores`` include training images scored out of fold (recorded).
        map_kind: what the maps mean.
        defect_maps: maps of the validation defects (an explanation map's scale uses them).
        defect_share: the share of defects best F1 is weighed to (see :func:`objective_threshold`); None uses
            the scores as they come.
    """
    from inspector_app.core.operating_point import false_alarms_at, misses_at  # noqa: PLC0415 - scipy, as above

    good_scores = np.asarray(good_scores, np.float64)
    if good_scores.size == 0:
        msg = "calibration needs at least one held-out good image, got none"
        raise ValueError(msg)
    defects = np.asarray(defect_scores if defect_scores is not None else [], np.float64)
    score_low = float(np.median(good_scores))
    shares = {Objective.FALSE_ALARM_RATE: false_alarm_rate, Objective.CATCH: catch_share, Objective.BEST_F1: 0.0}
    found = {o: objective_threshold(o, good_scores, defects, share, defect_share, score_low)
             for o, share in shares.items()}
    thresholds = {o.value: point[0] for o, point in found.items() if point is not None}
    chosen = Objective(objective) if found[Objective(objective)] is not None else Objective.FALSE_ALARM_RATE
    threshold, method, _ = found[chosen]
    # A threshold at or below the typical good score would make the normalised scale meaningless.
    if threshold <= score_low:
        threshold = score_low + max(float(good_scores.std()), abs(score_low) * 1e-3, 1e-6)
    f1 = None if found[Objective.BEST_F1] is None else found[Objective.BEST_F1][2]
    details: dict[str, Any] = {
        "objective": chosen.value,
        "target_false_alarm_rate": false_alarm_rate,
        "catch_share": catch_share,
        "good_count": int(good_scores.size),
        "defect_count": int(defects.size),
        "out_of_fold": out_of_fold,
        "defect_share": defect_share,
        "thresholds": thresholds,
        "false_alarms": false_alarms_at(good_scores, threshold).to_json(),
        "misses": misses_at(defects, threshold).to_json() if defects.size else None,
    }
    if f1 is not None:
        details["best_f1"] = f1
    map_low = float(np.median(np.asarray(good_maps, np.float32))) if np.size(good_maps) else 0.0
    map_low = min(map_low, threshold - 1e-6)
    if map_kind == MapKind.ANOMALY:
        return Calibration(float(threshold), score_low, map_low, method, details)
    if map_kind == MapKind.MASK:
        return Calibration(float(threshold), score_low, 0.0, method, details, map_kind, MASK_LEVEL)
    every_map = [np.ravel(m) for m in (good_maps, defect_maps) if m is not None and np.size(m)]
    reference = float(np.percentile(np.concatenate(every_map), EXPLANATION_PERCENTILE)) if every_map else 1.0
    return Calibration(float(threshold), score_low, 0.0, method, details, map_kind, max(reference, 1e-6))
