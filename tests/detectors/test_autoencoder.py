"""The autoencoder family: maps at input resolution, safe saving, clear errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from inspector_app.core.demo_parts import render_part
from inspector_app.detectors.autoencoder import AutoencoderDetector
from inspector_app.detectors.base import Progress, TrainingData


@pytest.fixture(scope="module")
def trained() -> AutoencoderDetector:
    good = np.stack([render_part(i, 32)[0] for i in range(16)])
    detector = AutoencoderDetector({"image_size": 32, "epochs": 2, "base_filters": 8, "bottleneck": 8})
    detector.fit(TrainingData(good=good[:12], val_good=good[12:]), Progress())
    return detector


def test_maps_come_back_at_input_resolution(trained: AutoencoderDetector) -> None:
    images = np.zeros((3, 45, 61, 3), np.uint8)
    out = trained.infer(images)
    assert out.scores.shape == (3,) and out.maps.shape == (3, 45, 61)
    assert out.maps.dtype == np.float32 and np.isfinite(out.maps).all()


def test_grey_parts_train_a_one_channel_model(trained: AutoencoderDetector) -> None:
    assert trained.config["channels"] == 3  # demo parts are slightly tinted: colour
    grey = np.repeat(np.stack([render_part(i, 32)[0][..., :1] for i in range(8)]), 3, axis=-1)
    detector = AutoencoderDetector({"image_size": 32, "epochs": 1, "base_filters": 8, "bottleneck": 8})
    detector.fit(TrainingData(good=grey[:6], val_good=grey[6:]), Progress())
    assert detector.config["channels"] == 1


def test_save_load_round_trip_is_identical_and_has_no_lambda(trained: AutoencoderDetector, tmp_path: Path) -> None:
    trained.save(tmp_path)
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        config = json.loads(archive.read("config.json"))
    assert "Lambda" not in json.dumps(config)
    again = AutoencoderDetector.load(tmp_path, trained.config)
    images = np.stack([render_part(50 + i, 40)[0] for i in range(2)])
    np.testing.assert_allclose(trained.infer(images).scores, again.infer(images).scores, rtol=1e-5)


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 8, 8), np.uint8), np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 8, 8, 4), np.uint8)]
)
def test_infer_rejects_wrong_input_naming_it(trained: AutoencoderDetector, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 N×H×W×3"):
        trained.infer(bad)


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown settings"):
        AutoencoderDetector({"epoch": 3})


def test_a_defect_scores_higher_than_good_parts() -> None:
    """Not a quality bar, a sanity check: after a short fit, a big stain stands out."""
    good = np.stack([render_part(i, 64)[0] for i in range(40)])
    detector = AutoencoderDetector({"image_size": 64, "epochs": 15, "base_filters": 16, "bottleneck": 32})
    detector.fit(TrainingData(good=good[:32], val_good=good[32:]), Progress())
    good_scores = detector.infer(np.stack([render_part(300 + i, 64)[0] for i in range(6)])).scores
    stained = np.stack([render_part(400 + i, 64, defect="stain")[0] for i in range(6)])
    assert np.median(detector.infer(stained).scores) > np.median(good_scores)


def test_feature_space_autoencoder_round_trip(tmp_path: Path) -> None:
    """The feature-space variant saves only its small network and statistics, and reloads identically."""
    good = np.stack([render_part(i, 64)[0] for i in range(12)])
    config = {"image_size": 64, "epochs": 2, "input_space": "features", "feature_bottleneck": 16, "smoothing_sigma": 2.0}
    detector = AutoencoderDetector(config)
    detector.fit(TrainingData(good=good[:9], val_good=good[9:]), Progress())
    folder = tmp_path / "version"
    folder.mkdir()
    detector.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "error_mean.npy", "error_std.npy", "feature_mean.npy", "feature_std.npy", "model.keras"]
    again = AutoencoderDetector.load(folder, detector.config)
    images = np.stack([render_part(70, 64)[0], render_part(71, 64, defect="hole")[0]])
    first = detector.infer(images)
    np.testing.assert_allclose(first.scores, again.infer(images).scores, rtol=1e-4)
    assert first.maps.shape == (2, 64, 64)


def test_unknown_input_space_is_a_clear_error() -> None:
    detector = AutoencoderDetector({"input_space": "voxels"})
    with pytest.raises(ValueError, match="input_space must be"):
        detector.fit(TrainingData(good=np.zeros((2, 16, 16, 3), np.uint8), val_good=np.zeros((1, 16, 16, 3), np.uint8)), Progress())


def test_error_statistics_come_from_images_across_the_training_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training images arrive in path order (often one capture batch after another): the per-pixel error
    statistics must not be measured on the first batch alone."""
    from inspector_app.detectors.autoencoder import detector as module  # noqa: PLC0415

    good = np.stack([render_part(i, 32)[0] for i in range(12)])
    good[:, 0, 0, 0] = np.arange(12)  # each image's index, to see which were measured
    seen: list[int] = []
    monkeypatch.setattr(module, "STATS_IMAGES", 4)
    monkeypatch.setattr(AutoencoderDetector, "_measure_error_statistics",
                        lambda self, images: seen.extend(int(v) for v in images[:, 0, 0, 0]))
    AutoencoderDetector({"image_size": 32, "epochs": 1, "base_filters": 8, "bottleneck": 8}).fit(
        TrainingData(good=good, val_good=good[:2]), Progress())
    assert seen == [0, 4, 7, 11]
