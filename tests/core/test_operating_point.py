"""The threshold for a false-alarm rate, on score distributions whose quantiles are known."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from inspector_app.core.operating_point import (
    false_alarms_at,
    misses_at,
    rate_estimate,
    threshold_for_false_alarm_rate,
    threshold_to_catch,
)


@pytest.mark.parametrize(("name", "dist"), [("normal", stats.norm(5.0, 1.0)), ("gamma", stats.gamma(3.0, scale=2.0))])
def test_the_threshold_sits_at_the_known_quantile(name: str, dist: stats.rv_continuous) -> None:
    good = dist.rvs(size=5000, random_state=np.random.default_rng(1))
    threshold, method = threshold_for_false_alarm_rate(good, 0.01)
    assert threshold == pytest.approx(dist.ppf(0.99), rel=0.03), name
    assert "percentile" in method
    assert false_alarms_at(good, threshold).rate == pytest.approx(0.01, abs=0.002)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_rate_beyond_the_data_comes_from_a_fitted_tail_not_the_maximum(seed: int) -> None:
    """300 scores and a 0.1 % target: the empirical quantile would be the largest score; the fitted tail
    lands near the true quantile, for an exponential and for the largest of 200 normal pixels (Gumbel-like)."""
    dist = stats.expon(scale=1.0)
    good = dist.rvs(size=300, random_state=np.random.default_rng(seed))
    threshold, method = threshold_for_false_alarm_rate(good, 0.001)
    assert "exponential tail" in method
    assert threshold == pytest.approx(dist.ppf(0.999), rel=0.25)
    rng = np.random.default_rng(seed)
    maxima = rng.normal(size=(300, 200)).max(axis=1)
    truth = np.quantile(rng.normal(size=(200_000, 200)).max(axis=1), 0.999)
    # Maxima of normal values have a slightly lighter tail than exponential: the fit errs on the safe side.
    assert 0.95 * truth <= threshold_for_false_alarm_rate(maxima, 0.001)[0] <= 1.15 * truth


def test_intervals_hold_the_rate_and_narrow_with_more_images() -> None:
    few, many = rate_estimate(2, 100), rate_estimate(20, 1000)
    assert few.low < 0.02 < few.high and many.low < 0.02 < many.high
    assert many.high - many.low < few.high - few.low
    assert rate_estimate(0, 50).low == 0.0 and rate_estimate(0, 50).high == pytest.approx(1 - 0.025 ** (1 / 50))
    assert "2 of 100" in few.text()


def test_catching_a_share_of_defects_and_counting_misses() -> None:
    defects = np.arange(1.0, 11.0)  # 1..10
    threshold = threshold_to_catch(defects, 0.8)
    assert threshold == 3.0 and misses_at(defects, threshold).count == 2
    assert threshold_to_catch(defects, 1.0) == 1.0


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1])
def test_a_rate_outside_zero_and_one_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        threshold_for_false_alarm_rate(np.arange(10.0), rate)


def test_a_dozen_scores_with_one_odd_image_give_a_threshold_that_image_does_not_decide() -> None:
    rng = np.random.default_rng(4)
    good = np.r_[rng.normal(3.0, 0.5, 11), 9.0]  # one odd good image
    threshold, method = threshold_for_false_alarm_rate(good, 0.01)
    assert "robust spread" in method
    assert 3.0 + 1.5 * 0.5 < threshold < 9.0  # above the normal body, below the odd image
    assert threshold_for_false_alarm_rate(np.full(12, 2.0), 0.01)[0] == 2.0  # no spread: the largest score
