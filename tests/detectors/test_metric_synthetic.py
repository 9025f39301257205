"""Synthetic anomalies of the metric family: each changes the image only inside the mask it returns, lands
where the image differs from the mean, and is the same for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from inspector_app.core.demo_parts import render_part
from inspector_app.detectors.metric.synthetic import (
    ANOMALY_CLASSES, check_classes, make_anomaly, placement_map, preview, synthetic_set,
)


@pytest.fixture(scope="module")
def part() -> np.ndarray:
    return render_part(7, 128)[0]


@pytest.mark.parametrize("kind", ANOMALY_CLASSES)
def test_each_anomaly_changes_the_image_only_inside_its_mask(kind: str, part: np.ndarray) -> None:
    placement = placement_map(part, None)
    for seed in range(20):
        before = part.copy()
        changed, mask = make_anomaly(kind, part, np.random.default_rng(seed), placement)
        np.testing.assert_array_equal(part, before)  # the input is left alone
        assert changed.shape == part.shape and changed.dtype == np.uint8 and mask.shape == part.shape[:2]
        differs = (changed != part).any(axis=-1)
        assert not (differs & ~mask).any(), f"{kind} seed {seed}: {int((differs & ~mask).sum())} pixels changed outside"
        assert differs.any(), f"{kind} seed {seed}: nothing changed"
        assert mask.mean() < 0.1, f"{kind} seed {seed}: {mask.mean():.0%} of the image is not a local change"


@pytest.mark.parametrize("kind", ANOMALY_CLASSES)
def test_the_same_seed_gives_the_same_anomaly(kind: str, part: np.ndarray) -> None:
    first = make_anomaly(kind, part, np.random.default_rng(3))
    again = make_anomaly(kind, part, np.random.default_rng(3))
    other = make_anomaly(kind, part, np.random.default_rng(4))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("kind", ["distortion", "cutpaste"])
def test_patches_land_where_the_image_differs_from_the_mean(kind: str) -> None:
    """Left half: the mean image exactly (plain background); right half: texture unlike the mean (the part)."""
    rng = np.random.default_rng(0)
    mean = np.full((96, 96, 3), 60, np.uint8)
    image = mean.copy()
    image[:, 48:] = rng.integers(90, 220, size=(96, 48, 1), dtype=np.uint8)
    placement = placement_map(image, mean)
    masks = [make_anomaly(kind, image, np.random.default_rng(seed), placement)[1] for seed in range(30)]
    share = sum(m[:, 48:].sum() for m in masks) / sum(m.sum() for m in masks)
    assert share > 0.85, f"only {share:.0%} of the {kind} pixels are on the differing half"
    assert placement[:, 48:].sum() > 0.95


def test_the_training_set_has_each_good_image_and_its_anomalies_in_a_fixed_order(part: np.ndarray) -> None:
    good = np.stack([part, render_part(8, 128)[0]])
    images, labels = synthetic_set(good, ["lines", "cutpaste"], per_image=2, seed=5)
    assert labels.tolist() == [0, 1, 1, 2, 2] * 2
    np.testing.assert_array_equal(images[0], good[0])
    np.testing.assert_array_equal(images[5], good[1])
    again, _ = synthetic_set(good, ["lines", "cutpaste"], per_image=2, seed=5)
    np.testing.assert_array_equal(images, again)


def test_unknown_or_repeated_classes_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="scribble"):
        check_classes(["lines", "scribble"])
    with pytest.raises(ValueError, match="distinct"):
        check_classes(["lines", "lines"])
    with pytest.raises(ValueError, match="uint8"):
        make_anomaly("lines", np.zeros((8, 8, 3), np.float32), np.random.default_rng(0))


def test_the_preview_shows_every_class_for_every_image(part: np.ndarray) -> None:
    shown = preview([part, part], ["lines", "distortion"], seed=1)
    assert list(shown) == ["normal", "lines", "distortion"]
    assert all(len(images) == 2 for images in shown.values())
    assert not np.array_equal(shown["lines"][0], part)
