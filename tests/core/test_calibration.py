"""Threshold choice and the normalised scale (0 = typical good, 1.0 = threshold)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inspector_app.core.calibration import Calibration, MapKind, Objective, calibrate, objective_threshold


def test_the_default_threshold_lets_the_target_share_of_good_parts_fail() -> None:
    rng = np.random.default_rng(0)
    good = rng.normal(1.0, 0.1, 2000)
    cal = calibrate(good, good_maps=rng.random((5, 8, 8)), false_alarm_rate=0.02)
    assert (good >= cal.threshold).mean() == pytest.approx(0.02, abs=0.003)
    assert cal.method.startswith("2 % false alarms") and cal.details["objective"] == "false_alarm_rate"
    estimate = cal.details["false_alarms"]
    assert estimate["low"] < 0.02 < estimate["high"] and estimate["total"] == 2000
    assert cal.details["misses"] is None and set(cal.details["thresholds"]) == {"false_alarm_rate"}


def test_best_f1_and_catch_need_defects_and_are_offered_beside_the_default() -> None:
    good = np.array([0.1, 0.2, 0.3, 0.35])
    defect = np.array([0.5, 0.6, 0.32])
    cal = calibrate(good, np.zeros((1, 2, 2)), defect_scores=defect, objective=Objective.BEST_F1)
    assert cal.method.startswith("best F1")
    # 0.32 flags all 3 defects and 1 good part: F1 = 6/7 ≈ 0.857, better than 0.5 (2 defects, F1 0.8).
    assert cal.threshold == pytest.approx(0.32)
    assert cal.details["best_f1"] == pytest.approx(6 / 7)
    assert cal.details["misses"]["count"] == 0 and cal.details["false_alarms"]["count"] == 1
    catch = calibrate(good, np.zeros((1, 2, 2)), defect_scores=defect, objective=Objective.CATCH, catch_share=0.6)
    assert catch.threshold == pytest.approx(0.5) and catch.details["misses"]["count"] == 1
    assert set(catch.details["thresholds"]) == {"false_alarm_rate", "best_f1", "catch"}
    without = calibrate(good, np.zeros((1, 2, 2)), objective=Objective.BEST_F1)
    assert without.details["objective"] == "false_alarm_rate"  # nothing to balance against


def test_best_f1_weighed_to_a_defect_share_equals_the_labelled_images_at_that_share() -> None:
    rng = np.random.default_rng(3)
    good = rng.normal(0.0, 1.0, 400)
    defect = rng.normal(2.0, 1.0, 40)
    maps = np.zeros((1, 2, 2))
    weighed = calibrate(good, maps, defect_scores=defect, objective=Objective.BEST_F1, defect_share=0.5)
    # Half defects: the same as every defect counted ten times against the 400 good images.
    tenfold = calibrate(good, maps, defect_scores=np.repeat(defect, 10), objective=Objective.BEST_F1)
    assert weighed.threshold == pytest.approx(tenfold.threshold)
    assert weighed.details["best_f1"] == pytest.approx(tenfold.details["best_f1"])
    plain = calibrate(good, maps, defect_scores=defect, objective=Objective.BEST_F1)
    assert weighed.threshold < plain.threshold  # common defects: fail more parts to catch them
    assert "weighed to 50 % defects" in weighed.method and weighed.details["defect_share"] == 0.5


def test_a_weak_models_best_f1_stays_above_the_typical_good_score() -> None:
    """With most labelled images defects, a weak model's F1 peaks at failing nearly every part; the stored
    threshold is then the best F1 above the median good score, not a fixed step above it."""
    rng = np.random.default_rng(5)
    good, defect = rng.normal(0.0, 1.0, 300), rng.normal(0.4, 1.0, 120)
    maps = np.zeros((1, 2, 2))
    unconstrained = objective_threshold(Objective.BEST_F1, good, defect, 0.0, 0.62)
    assert unconstrained is not None and unconstrained[0] < np.median(good)
    cal = calibrate(good, maps, defect_scores=defect, objective=Objective.BEST_F1, defect_share=0.62)
    weights = np.r_[np.full(300, 120 * 0.38 / (0.62 * 300)), np.ones(120)]

    def weighed_f1(t: float) -> float:
        caught = (defect >= t).sum()
        return 2 * caught / (2 * caught + weights[0] * (good >= t).sum() + (defect < t).sum())

    above = [t for t in np.r_[good, defect] if t > np.median(good)]
    assert cal.threshold == pytest.approx(max(above, key=weighed_f1))
    assert cal.details["best_f1"] == pytest.approx(weighed_f1(cal.threshold))


def test_normalised_scale_zero_at_median_one_at_threshold() -> None:
    cal = Calibration(threshold=3.0, score_low=1.0, map_low=0.5, method="test")
    assert cal.normalise_scores(np.array([1.0, 2.0, 3.0, 5.0])) == pytest.approx([0.0, 0.5, 1.0, 2.0])
    assert cal.normalise_maps(np.array([0.0, 0.5, 3.0])) == pytest.approx([0.0, 0.0, 1.0])
    assert list(cal.verdicts(np.array([2.9, 3.0, 3.1]))) == [False, True, True]


def test_constant_good_scores_still_give_a_usable_scale() -> None:
    cal = calibrate(np.full(10, 0.25), np.zeros((1, 4, 4)))
    assert cal.threshold > cal.score_low
    assert np.isfinite(cal.normalise_scores(np.array([0.3]))).all()


def test_json_round_trip_and_manual_threshold() -> None:
    cal = calibrate(np.linspace(0, 1, 20), np.zeros((1, 2, 2)))
    again = Calibration.from_json(cal.to_json())
    assert again == cal
    moved = cal.with_threshold(0.42)
    assert moved.threshold == 0.42 and moved.method == "manual" and moved.score_low == cal.score_low


def test_no_good_scores_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least one held-out good image"):
        calibrate(np.array([]), np.zeros((0, 2, 2)))


def test_each_map_kind_is_put_on_the_scale_its_own_way() -> None:
    """Anomaly maps follow the threshold; a mask's contour level is 1.0 whatever the threshold; an explanation
    map's validation reference is 1.0, fixed for every frame."""
    good_scores = np.linspace(0.0, 1.0, 50)
    maps = np.full((2, 4, 4), 0.25, np.float32)
    maps[1, 0, 0] = 8.0
    anomaly = calibrate(good_scores, maps)
    mask = calibrate(good_scores, maps, map_kind=MapKind.MASK)
    explanation = calibrate(good_scores, maps[:1], map_kind=MapKind.EXPLANATION, defect_maps=maps[1:])
    probability = np.array([[0.0, 0.25, 0.5, 1.0]], np.float32)
    np.testing.assert_allclose(mask.normalise_maps(probability), [[0.0, 0.5, 1.0, 2.0]])
    np.testing.assert_allclose(mask.with_threshold(123.0).normalise_maps(probability), [[0.0, 0.5, 1.0, 2.0]])
    reference = float(np.percentile(maps, 99.0))
    assert explanation.map_scale == pytest.approx(reference)
    np.testing.assert_allclose(explanation.normalise_maps(np.array([[reference]])), [[1.0]], rtol=1e-6)
    assert anomaly.normalise_maps(np.array([[anomaly.threshold]]))[0, 0] == pytest.approx(1.0)
    for calibration in (anomaly, mask, explanation):
        again = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
        assert again == calibration and isinstance(again.map_kind, MapKind)


def test_a_calibration_saved_before_map_kinds_reads_as_an_anomaly_map() -> None:
    old = {"threshold": 2.0, "score_low": 1.0, "map_low": 0.5, "method": "m", "details": {}}
    calibration = Calibration.from_json(old)
    assert calibration.map_kind == MapKind.ANOMALY
    assert calibration.normalise_maps(np.array([[2.0]]))[0, 0] == pytest.approx(1.0)
