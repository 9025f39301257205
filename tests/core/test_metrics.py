"""Metrics on examples small enough to check by hand, and AUPRO against a slow brute-force reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from inspector_app.core import metrics


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0),
        ([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1], 0.0),
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),  # 3 of 4 (good, defect) pairs ordered right
        ([0, 1], [0.5, 0.5], 0.5),  # a tie counts half
    ],
)
def test_image_auroc_hand_examples(labels: list[int], scores: list[float], expected: float) -> None:
    assert metrics.image_auroc(np.array(labels), np.array(scores)) == pytest.approx(expected)


def test_image_auroc_single_class_is_nan() -> None:
    assert np.isnan(metrics.image_auroc(np.zeros(4), np.arange(4)))


def test_per_type_auroc_compares_each_type_with_good_only() -> None:
    types = ["good", "good", "scratch", "hole"]
    scores = np.array([0.1, 0.3, 0.9, 0.2])  # scratch above both goods; hole between them
    result = metrics.per_type_auroc(types, scores)
    assert result == {"hole": pytest.approx(0.5), "scratch": pytest.approx(1.0)}


def test_best_f1_threshold_hand_example() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.6, 0.5, 0.9])
    threshold, f1 = metrics.best_f1_threshold(labels, scores)
    # threshold 0.5 flags {0.5, 0.6, 0.9}: 2 TP, 1 FP, 0 FN → F1 = 0.8; 0.9 alone gives 0.667; 0.6 gives 0.5.
    assert threshold == pytest.approx(0.5)
    assert f1 == pytest.approx(0.8)


def test_confusion_at_threshold() -> None:
    c = metrics.confusion_at(np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.7, 0.8, 0.2, 0.5]), threshold=0.5)
    assert (c.true_pass, c.false_alarm, c.missed, c.caught) == (1, 1, 1, 2)
    assert c.false_alarm_rate == pytest.approx(0.5)
    assert c.miss_rate == pytest.approx(1 / 3)


def test_pixel_auroc_perfect_and_inverted_maps() -> None:
    masks = np.zeros((2, 8, 8), bool)
    masks[0, 2:4, 2:4] = True
    assert metrics.pixel_auroc(masks, masks.astype(np.float32)) == pytest.approx(1.0)
    assert metrics.pixel_auroc(masks, 1.0 - masks.astype(np.float32)) == pytest.approx(0.0)


def test_aupro_perfect_map_is_one() -> None:
    masks = np.zeros((3, 16, 16), bool)
    masks[0, 2:5, 2:5] = True
    masks[1, 10:12, 3:9] = True
    assert metrics.aupro(masks, masks.astype(np.float32)) == pytest.approx(1.0, abs=1e-6)


def _aupro_reference(masks: np.ndarray, maps: np.ndarray, max_fpr: float, steps: int) -> float:
    """Slow and obvious: loop over thresholds and regions."""
    edges = np.linspace(maps.min(), maps.max(), steps + 1)[1:-1]
    thresholds = np.r_[-np.inf, edges]  # bin k holds values >= thresholds[k]
    regions = [(i, lab == r) for i in range(len(masks)) for lab, n in [ndimage.label(masks[i])] for r in range(1, n + 1)]
    points = []
    for t in thresholds:
        flagged = maps >= t
        fpr = (flagged & ~masks).sum() / (~masks).sum()
        pro = np.mean([(flagged[i] & region).sum() / region.sum() for i, region in regions])
        points.append((fpr, pro))
    points.sort()
    fprs = np.r_[0.0, [p[0] for p in points]]
    pros = np.r_[0.0, [p[1] for p in points]]
    keep = fprs <= max_fpr
    xs = np.r_[fprs[keep], max_fpr]
    ys = np.r_[pros[keep], np.interp(max_fpr, fprs, pros)]
    return float(np.trapezoid(ys, xs) / max_fpr)


def test_aupro_matches_brute_force_reference() -> None:
    rng = np.random.default_rng(3)
    masks = np.zeros((4, 24, 24), bool)
    masks[0, 3:8, 3:8] = True
    masks[1, 15:20, 2:4] = True
    masks[1, 2:4, 18:22] = True
    masks[3, 10:14, 10:14] = True
    maps = rng.random(masks.shape).astype(np.float32) + 0.6 * masks
    # Side="right" binning equals ">= edge" for continuous values; quantise so both agree exactly.
    maps = np.round(maps, 3)
    fast = metrics.aupro(masks, maps, steps=50)
    slow = _aupro_reference(masks, maps, 0.3, 50)
    assert fast == pytest.approx(slow, abs=0.02)
    assert 0.0 < fast < 1.0


def test_mask_overlap_pools_pixels_and_averages_defect_images() -> None:
    masks = np.zeros((3, 4, 4), bool)
    drawn = np.zeros((3, 4, 4), bool)
    masks[0, 0, :4] = True  # 4 true pixels, 2 of them drawn
    drawn[0, 0, :2] = True
    masks[1, 1:3, 1:3] = True  # 4 true pixels, all drawn, plus 4 drawn outside
    drawn[1, 1:3, :4] = True
    drawn[2, 3, 3] = True  # a good image (empty mask) with one false pixel
    found = metrics.mask_overlap(masks, drawn)
    # pooled: overlap 2 + 4 = 6; union 4 + 8 + 1 = 13; Dice 2·6 / (8 + 11) = 12 / 19
    assert found.iou == pytest.approx(6 / 13) and found.dice == pytest.approx(12 / 19)
    # per defect image: 2/4 and 4/8; the good image is left out of the mean
    assert found.mean_defect_iou == pytest.approx(0.5) and found.defect_images == 2
    empty = metrics.mask_overlap(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)))
    assert np.isnan(empty.iou) and np.isnan(empty.dice) and np.isnan(empty.mean_defect_iou)
    with pytest.raises(ValueError, match="same shape"):
        metrics.mask_overlap(masks, drawn[:2])
