"""The one scale an operator reads scores on: the score divided by the threshold, so 1.0 is the threshold.

Banner, strip chart and review queue all say "N× threshold"; this is the plain ratio, not the calibrated
scale ``Calibration.normalise_scores`` gives (that one puts a typical good part at 0 and reads as nonsense
when labelled "× threshold").
"""

from __future__ import annotations

import math


def times_threshold(score: float, threshold: float, fallback: float) -> float:
    """``score / threshold``; ``fallback`` (the calibrated scale) when the threshold is not above zero, where
    a ratio means nothing (no family here has one, but a hand-edited calibration could)."""
    if threshold > 0 and math.isfinite(threshold):
        return float(score) / float(threshold)
    return float(fallback)
