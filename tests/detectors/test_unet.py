"""U-Net family: its losses against hand-computed values, its image scores, and a trained network that outlines
generated defects it never saw, through tiling and a save/load round trip.

One detector is trained per module on generated textured plates with dark pits and bright scratches at known
places (about half a minute on two shared cores) and shared by the tests that only read it.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector_app.core.calibration import MASK_LEVEL, MapKind
from inspector_app.core.errors import TrainingCancelled
from inspector_app.detectors.base import MASK, Progress, TrainingData
from inspector_app.detectors.common import runtime
from inspector_app.detectors.registry import detector_class
from inspector_app.detectors.unet.detector import INFO_FILE, MODEL_FILE, UNetDetector
from inspector_app.detectors.unet.scoring import LARGEST_AREA, MAX_PROBABILITY, image_scores, largest_region_areas

SIZE = 32
#: A faster rate than the default (tuned for long runs on real tiles) so 20 epochs learn the plates.
CONFIG = {"image_size": SIZE, "epochs": 20, "batch_size": 8, "early_stopping": 0, "learning_rate": 2e-3}
#: The trained network's IoU on unseen plates was 0.855, 0.875, 0.904 and 0.917 in four runs with batch
#: normalisation, 0.887 with group normalisation (0.744 at the default rate 5e-4); the bound leaves room for
#: run-to-run noise but fails a network that marks the wrong place or nothing (without normalisation: 0.56).
MIN_IOU = 0.7


def plates(seed: int, count: int, defect: bool, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Textured grey plates (uint8 N×size×size×3) and their defect masks: a dark pit or a bright scratch."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size, 3), np.uint8)
    masks = np.zeros((count, size, size), bool)
    for i in range(count):
        noise = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 2.0)
        plate = 130 + 12 * noise / max(float(noise.std()), 1e-6) + rng.normal(0, 4, (size, size))
        mask = np.zeros((size, size), np.uint8)
        if defect:
            if i % 2:
                centre = tuple(int(v) for v in rng.integers(10, size - 10, 2))
                axes = tuple(int(v) for v in rng.integers(3, 7, 2))
                cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
                plate = np.where(mask > 0, plate - 70, plate)
            else:
                start, end = rng.integers(6, size - 6, 2), rng.integers(6, size - 6, 2)
                cv2.line(mask, (int(start[0]), int(start[1])), (int(end[0]), int(end[1])), 1, 3)
                plate = np.where(mask > 0, plate + 60, plate)
        images[i] = np.clip(plate, 0, 255).astype(np.uint8)[..., None]
        masks[i] = mask > 0
    return images, masks


def training_data(seed: int = 0, size: int = SIZE) -> TrainingData:
    good, _ = plates(seed, 40, defect=False, size=size)
    defect, masks = plates(seed + 1, 40, defect=True, size=size)
    val_good, _ = plates(seed + 2, 8, defect=False, size=size)
    val_defect, val_masks = plates(seed + 3, 8, defect=True, size=size)
    return TrainingData(good=good, val_good=val_good, defect=defect, defect_masks=masks, val_defect=val_defect,
                        val_defect_masks=val_masks)


@pytest.fixture(scope="module")
def fitted() -> UNetDetector:
    detector = UNetDetector(CONFIG)
    detector.fit(training_data(), Progress())
    return detector


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float((predicted & truth).sum() / max((predicted | truth).sum(), 1))


# -- losses -----------------------------------------------------------------------------------------------
Y_TRUE = np.array([[[1.0], [0.0]], [[1.0], [0.0]]], np.float32)[None]  # one 2×2 mask, two defect pixels
Y_PRED = np.array([[[0.9], [0.2]], [[0.6], [0.1]]], np.float32)[None]


def test_dice_loss_matches_the_hand_computed_value() -> None:
    from inspector_app.detectors.unet.losses import DiceLoss  # noqa: PLC0415

    # overlap 0.9 + 0.6 = 1.5; Σy = 2; Σp = 1.8; smooth 1: 1 − (3 + 1) / (2 + 1.8 + 1) = 1 − 4 / 4.8
    assert float(DiceLoss()(Y_TRUE, Y_PRED)) == pytest.approx(1 - 4 / 4.8, abs=1e-6)
    # without smoothing: 1 − 3 / 3.8
    assert float(DiceLoss(smooth=0.0)(Y_TRUE, Y_PRED)) == pytest.approx(1 - 3 / 3.8, abs=1e-6)
    # a perfect mask costs nothing
    assert float(DiceLoss()(Y_TRUE, Y_TRUE)) == pytest.approx(0.0, abs=1e-6)


def test_bce_dice_loss_matches_the_hand_computed_value() -> None:
    from inspector_app.detectors.unet.losses import BceDiceLoss  # noqa: PLC0415

    bce = -(np.log(0.9) + np.log(0.8) + np.log(0.6) + np.log(0.9)) / 4  # 0.2362...
    dice = 1 - 4 / 4.8
    assert float(BceDiceLoss()(Y_TRUE, Y_PRED)) == pytest.approx(bce + dice, abs=1e-5)
    assert float(BceDiceLoss(bce_weight=0.5)(Y_TRUE, Y_PRED)) == pytest.approx(0.5 * bce + dice, abs=1e-5)
    # probabilities of exactly 0 and 1 are clipped, never log(0)
    hard = np.array([[[[0.0]], [[1.0]]]], np.float32)
    assert np.isfinite(float(BceDiceLoss()(1.0 - hard, hard)))


def test_a_model_compiled_with_the_losses_loads_in_safe_mode(tmp_path: Path) -> None:
    from inspector_app.detectors.unet.losses import BceDiceLoss  # noqa: PLC0415

    keras = runtime.keras()
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid")(inputs))
    model.compile(optimizer="adam", loss=BceDiceLoss(bce_weight=0.25, smooth=2.0))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert isinstance(loaded.loss, BceDiceLoss)
    assert (loaded.loss.bce_weight, loaded.loss.smooth) == (0.25, 2.0)


# -- scores -----------------------------------------------------------------------------------------------
def test_largest_area_counts_the_biggest_region_and_falls_back_to_the_peak() -> None:
    maps = np.zeros((3, 10, 10), np.float32)
    maps[0, 1:3, 1:4] = 0.9  # 6 px
    maps[0, 6:9, 6:9] = 0.7  # 9 px, apart from the first: the larger one counts
    maps[1, 5, 5] = 0.3  # nothing at the contour level: the peak
    maps[2, 2:4, 2:4] = 0.8
    maps[2, 4, 4] = 0.6  # touches diagonally: one 8-connected region of 5 px
    assert largest_region_areas(maps, MASK_LEVEL).tolist() == [9, 0, 5]
    np.testing.assert_allclose(image_scores(maps, LARGEST_AREA, MASK_LEVEL), [9, 0.3, 5])
    np.testing.assert_allclose(image_scores(maps, MAX_PROBABILITY, MASK_LEVEL), [0.9, 0.3, 0.8])
    with pytest.raises(ValueError, match="largest_area"):
        image_scores(maps, "mean", MASK_LEVEL)


# -- the trained network ----------------------------------------------------------------------------------
def test_registered_as_a_mask_family() -> None:
    assert detector_class("unet") is UNetDetector
    assert UNetDetector.map_kind == MapKind.MASK and MASK in UNetDetector.needs


def test_the_mask_overlaps_defects_it_never_saw(fitted: UNetDetector) -> None:
    images, masks = plates(1000, 16, defect=True)
    maps = fitted.infer(images).maps
    overlap = iou(maps >= MASK_LEVEL, masks)
    print(f"U-Net IoU on 16 unseen generated defects: {overlap:.3f}")  # noqa: T201 - the figure the report states
    assert overlap >= MIN_IOU
    per_image = [iou(m >= MASK_LEVEL, t) for m, t in zip(maps, masks, strict=True)]
    assert np.median(per_image) >= MIN_IOU, per_image


def test_defect_plates_score_above_good_plates(fitted: UNetDetector) -> None:
    good = fitted.infer(plates(2000, 16, defect=False)[0]).scores
    defective = fitted.infer(plates(2001, 16, defect=True)[0]).scores
    assert np.median(defective) >= 10 and np.median(good) < MASK_LEVEL  # areas in px; good: no region drawn
    assert (defective > np.percentile(good, 90)).mean() >= 0.9


def test_the_networks_own_peak_output_is_the_max_probability_score(fitted: UNetDetector) -> None:
    images = plates(3000, 4, defect=True)[0]
    outputs = fitted.networks()["segmentation"](images.astype(np.float32), training=False)
    scorer = UNetDetector({**fitted.config, "score": MAX_PROBABILITY})
    scorer._set_model(fitted.networks()["segmentation"])
    np.testing.assert_allclose(outputs["max_probability"].numpy()[:, 0], scorer.infer(images).scores, atol=1e-6)


def test_maps_are_probabilities_at_the_input_size(fitted: UNetDetector) -> None:
    image = plates(4000, 1, defect=True, size=96)[0][:, :, :80]  # not square, not the working size
    out = fitted.infer(image)
    assert out.maps.shape == (1, 96, 80) and out.maps.dtype == np.float32
    assert 0.0 <= out.maps.min() and out.maps.max() <= 1.0


def test_save_and_load_give_identical_maps_without_pickle(fitted: UNetDetector, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([MODEL_FILE, INFO_FILE])
    assert json.loads((tmp_path / INFO_FILE).read_text())["config"]["image_size"] == SIZE
    loaded = UNetDetector.load(tmp_path, fitted.config)
    images = plates(5000, 3, defect=True)[0]
    before, after = fitted.infer(images), loaded.infer(images)
    np.testing.assert_array_equal(after.maps, before.maps)
    np.testing.assert_array_equal(after.scores, before.scores)


def test_a_version_saved_with_the_old_batch_norm_setting_still_loads(fitted: UNetDetector, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    old = {k: v for k, v in fitted.config.items() if k != "normalization"} | {"batch_norm": True}
    assert UNetDetector.load(tmp_path, old).config["normalization"] == "batch"


def test_the_map_does_not_depend_on_the_batch_it_was_trained_with() -> None:
    """Inspection must draw the map training optimised: batch statistics (the old default) are replaced by
    moving averages at inspection, and on images brighter than the training batches the two maps differed."""
    detector = UNetDetector({**CONFIG, "epochs": 2, "dropout": 0.0})
    detector.fit(training_data(seed=11), Progress())
    network = detector.networks()["segmentation"]
    brighter = np.clip(plates(6000, 8, defect=True)[0].astype(np.float32) + 60.0, 0.0, 255.0)
    trained_as = network(brighter, training=True)["mask"].numpy()
    inspected = network(brighter, training=False)["mask"].numpy()
    np.testing.assert_allclose(inspected, trained_as, atol=1e-4)


def test_a_saved_version_of_another_format_is_refused(fitted: UNetDetector, tmp_path: Path) -> None:
    fitted.save(tmp_path)
    (tmp_path / INFO_FILE).write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        UNetDetector.load(tmp_path, fitted.config)


# -- tiling, settings and bad input -----------------------------------------------------------------------
def test_large_images_are_tiled_at_native_resolution() -> None:
    config, note = UNetDetector.fit_to_image_size({}, 900, 700)
    assert config == {"image_size": 896, "tile_size": 256} and "tiles" in note
    assert UNetDetector.fit_to_image_size({}, 400, 300) == ({}, "")
    assert UNetDetector.fit_to_image_size({"image_size": 128}, 900, 700) == ({"image_size": 128}, "")


def test_a_tiled_network_trains_and_maps_the_whole_image() -> None:
    detector = UNetDetector({"image_size": 64, "tile_size": 32, "epochs": 1, "early_stopping": 0})
    assert detector.origins == [0, 24, 32] and detector.preprocessing().size == (32, 32)
    full = training_data(seed=7, size=64)
    data = TrainingData(good=full.good[:6], val_good=full.val_good[:2], defect=full.defect[:6],
                        defect_masks=full.defect_masks[:6], val_defect=full.val_defect[:2],
                        val_defect_masks=full.val_defect_masks[:2])
    report = detector.fit(data, Progress())
    assert report.details["tiles_per_image"] == 9
    out = detector.infer(data.val_defect[:2])
    assert out.maps.shape == (2, 64, 64) and np.isfinite(out.scores).all()


def test_defects_without_masks_or_with_only_empty_masks_are_refused() -> None:
    data = training_data()
    data.defect_masks = None
    with pytest.raises(ValueError, match="mask for every defect image"):
        UNetDetector({**CONFIG, "epochs": 1}).fit(data, Progress())
    data = training_data()
    data.defect_masks = np.zeros_like(data.defect_masks)
    with pytest.raises(ValueError, match="every training mask is empty"):
        UNetDetector({**CONFIG, "epochs": 1}).fit(data, Progress())


def test_an_unknown_score_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="largest_area, max_probability"):
        UNetDetector({"score": "mean"})
    with pytest.raises(ValueError, match="group, batch, none"):
        UNetDetector({"normalization": "layer"})


def test_cancel_stops_training_and_keeps_no_network() -> None:
    progress = Progress()
    progress.stop()
    detector = UNetDetector({**CONFIG, "epochs": 3})
    with pytest.raises(TrainingCancelled):
        detector.fit(training_data(), progress)
    assert detector.networks() == {}
