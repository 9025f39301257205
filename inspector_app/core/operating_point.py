"""Where to put the threshold for the false-alarm rate an operator asks for, and how sure that rate is.

The threshold is the (1 − r) quantile of good scores (out-of-fold, so the model never saw the image it
scores). Where fewer than ``MIN_TAIL_COUNT`` good scores would lie above it, an empirical quantile is little
more than the largest score, so the scores above the 90th percentile are fitted with an exponential tail
(peaks over threshold) and the quantile is read from the fit. Exponential, because an image score is the
largest of many pixel values, and such maxima have exponential tails (the Gumbel case of extreme-value
theory); a free-shape Pareto fit to a few dozen scores swung by ±50 % on synthetic data. With fewer than
``MIN_FIT_COUNT`` scores above the 90th percentile there is no tail to fit: the scores are taken as normal,
with the median and the median absolute deviation as centre and spread, so one odd good image among a
dozen cannot decide the threshold. The rate the threshold will give
is reported as the count of good scores above it with a 95 % Clopper–Pearson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Fewest good scores above an empirical quantile for it to stand on its own; below that the tail is fitted.
MIN_TAIL_COUNT = 10
#: The share of good scores the tail fit uses (those above this quantile).
TAIL_START = 0.90
#: Fewest scores above TAIL_START to fit a tail to.
MIN_FIT_COUNT = 5
#: Scale from the median absolute deviation to the standard deviation of a normal distribution.
MAD_TO_SIGMA = 1.4826
CONFIDENCE = 0.95


@dataclass(frozen=True)
class RateEstimate:
    """A rate measured on ``total`` images, ``count`` of them on the wrong side, with its interval."""

    count: int
    total: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.count / self.total if self.total else float("nan")

    def text(self) -> str:
        """'1.2 % (95 % interval 0.6–2.3 %, 8 of 650)'."""
        if not self.total:
            return "unknown (no images)"
        return (f"{100 * self.rate:.1f} % ({100 * CONFIDENCE:.0f} % interval {100 * self.low:.1f}–"
                f"{100 * self.high:.1f} %, {self.count} of {self.total})")

    def to_json(self) -> dict[str, float]:
        return {"count": self.count, "total": self.total, "rate": self.rate, "low": self.low, "high": self.high}


def rate_estimate(count: int, total: int) -> RateEstimate:
    """``count`` of ``total`` with its Clopper–Pearson interval (exact, never outside [0, 1])."""
    if total <= 0:
        return RateEstimate(0, 0, float("nan"), float("nan"))
    alpha = 1.0 - CONFIDENCE
    low = 0.0 if count == 0 else float(stats.beta.ppf(alpha / 2, count, total - count + 1))
    high = 1.0 if count == total else float(stats.beta.ppf(1 - alpha / 2, count + 1, total - count))
    return RateEstimate(int(count), int(total), low, high)


def false_alarms_at(good_scores: np.ndarray, threshold: float) -> RateEstimate:
    """Good images at or above ``threshold`` (they would FAIL), with the interval of that rate."""
    good = np.asarray(good_scores, np.float64)
    return rate_estimate(int(np.sum(good >= threshold)), good.size)


def misses_at(defect_scores: np.ndarray, threshold: float) -> RateEstimate:
    """Defect images below ``threshold`` (they would PASS), with the interval of that rate."""
    defects = np.asarray(defect_scores, np.float64)
    return rate_estimate(int(np.sum(defects < threshold)), defects.size)


def threshold_for_false_alarm_rate(good_scores: np.ndarray, rate: float) -> tuple[float, str]:
    """The score above which a share ``rate`` of good parts lies, and how it was found.

    Raises:
        ValueError: no good scores, or a rate outside (0, 1).
    """
    good = np.sort(np.asarray(good_scores, np.float64)[np.isfinite(good_scores)])
    if good.size == 0:
        msg = "a threshold needs at least one good score, got none"
        raise ValueError(msg)
    if not 0.0 < rate < 1.0:
        msg = f"the false-alarm rate must be between 0 and 1 (exclusive), got {rate!r}"
        raise ValueError(msg)
    if good.size * rate >= MIN_TAIL_COUNT:
        return float(np.quantile(good, 1.0 - rate)), f"{100 * (1 - rate):g}th percentile of {good.size} good scores"
    return _fitted_tail_quantile(good, rate)


def _fitted_tail_quantile(good: np.ndarray, rate: float) -> tuple[float, str]:
    """The (1 − rate) quantile from an exponential fit to the scores above the TAIL_START quantile."""
    start = float(np.quantile(good, TAIL_START))
    excess = good[good > start] - start
    if excess.size < MIN_FIT_COUNT or np.ptp(excess) <= 0:
        return _robust_normal_quantile(good, rate)
    tail_share = excess.size / good.size  # P(score > start)
    quantile = start + float(excess.mean()) * float(np.log(tail_share / rate))  # mean excess: the MLE of the scale
    method = f"exponential tail fitted to the top {100 * (1 - TAIL_START):g} % of {good.size} good scores"
    return max(quantile, start), method


def _robust_normal_quantile(good: np.ndarray, rate: float) -> tuple[float, str]:
    """The (1 − rate) quantile of a normal with the scores' median and robust spread; the largest score when
    they have no spread."""
    median = float(np.median(good))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(good - median)))
    if spread <= 0:
        return float(good[-1]), f"largest of {good.size} good scores (they do not vary)"
    z = float(stats.norm.ppf(1.0 - rate))
    method = f"median + {z:.2f} × robust spread of {good.size} good scores (too few to fit a tail)"
    return median + z * spread, method


def threshold_to_catch(defect_scores: np.ndarray, share: float) -> float:
    """The highest threshold at which at least ``share`` of the defect images still FAIL."""
    defects = np.sort(np.asarray(defect_scores, np.float64))
    if defects.size == 0:
        msg = "catching a share of defects needs defect scores, got none"
        raise ValueError(msg)
    missed_at_most = int(np.floor((1.0 - share) * defects.size + 1e-9))
    return float(defects[min(missed_at_most, defects.size - 1)])
