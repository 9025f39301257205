"""Patch-memory family: finds generated defects, saves without pickle, tiles large images, honours cancel.

One detector is fitted per module on generated parts (a few seconds) and shared by the tests that only read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector_app.core.demo_parts import render_part
from inspector_app.core.errors import TrainingCancelled
from inspector_app.detectors.backbones.extractors import (
    BackboneWeightsMissing,
    backbone_spec,
    build_feature_extractor,
    find_weights,
)
from inspector_app.detectors.base import Progress, TrainingData
from inspector_app.detectors.patch_memory.detector import BANK_FILE, INFO_FILE, PatchMemoryDetector
from inspector_app.detectors.common.coreset import coreset_indices, greedy_k_center
from inspector_app.detectors.common.tiling import stitch, tile_origins
from inspector_app.detectors.registry import detector_class

SIZE = 224
CONFIG = {"image_size": SIZE, "coreset_fraction": 0.25}


def parts(seeds: range, defect: str | None = None, size: int = SIZE) -> np.ndarray:
    return np.stack([render_part(seed, size, defect=defect)[0] for seed in seeds])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> PatchMemoryDetector:
    home = tmp_path_factory.mktemp("inspector-home")  # the per-test data dir does not exist yet at module scope
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INSPECTOR_APP_HOME", str(home))
        detector = PatchMemoryDetector(CONFIG)
        good = parts(range(16))
        detector.fit(TrainingData(good=good, val_good=good[:0]), Progress())
    return detector


def test_registered_as_a_family() -> None:
    assert detector_class("patch_memory") is PatchMemoryDetector


def test_generated_defects_score_above_every_good_part(fitted: PatchMemoryDetector) -> None:
    good = fitted.infer(parts(range(100, 108))).scores
    for kind in ("scratch", "stain"):
        defective = fitted.infer(parts(range(200, 203), defect=kind)).scores
        assert defective.min() > good.max(), f"{kind}: {defective} vs good up to {good.max()}"


def test_maps_are_at_input_resolution_for_any_size(fitted: PatchMemoryDetector) -> None:
    image = render_part(5, 300)[0][:180, :260]  # not square, not the working size
    out = fitted.infer(np.stack([image, image[::-1]]))
    assert out.scores.shape == (2,)
    assert out.maps.shape == (2, 180, 260)
    assert out.maps.dtype == np.float32
    assert np.isfinite(out.maps).all() and (out.maps >= 0).all()


def test_empty_batch_gives_empty_output(fitted: PatchMemoryDetector) -> None:
    out = fitted.infer(np.zeros((0, 64, 64, 3), np.uint8))
    assert out.scores.shape == (0,) and out.maps.shape == (0, 64, 64)


@pytest.mark.parametrize("bad", [np.zeros((2, 32, 32), np.uint8), np.zeros((1, 32, 32, 3), np.float32)])
def test_rejects_images_that_are_not_uint8_rgb(fitted: PatchMemoryDetector, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 N×H×W×3"):
        fitted.infer(bad)


def test_save_and_load_give_identical_scores_without_pickle(fitted: PatchMemoryDetector, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    fitted.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted([BANK_FILE, INFO_FILE])
    np.load(folder / BANK_FILE, allow_pickle=False)  # plain array, no objects
    json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
    loaded = PatchMemoryDetector.load(folder, fitted.config)
    images = np.concatenate([parts(range(300, 302)), parts(range(302, 303), defect="hole")])
    before, after = fitted.infer(images), loaded.infer(images)
    np.testing.assert_array_equal(after.scores, before.scores)
    np.testing.assert_array_equal(after.maps, before.maps)


def test_fit_reports_progress_and_details() -> None:
    events: list[dict[str, Any]] = []
    detector = PatchMemoryDetector({"image_size": 96, "layers": "stride8, stride16"})
    assert detector.config["layers"] == ["stride8", "stride16"]
    good = parts(range(4), size=96)
    report = detector.fit(TrainingData(good=good, val_good=good[:0]), Progress(events.append))
    stages = {e["stage"] for e in events}
    assert {"features", "coreset", "done"} <= stages
    assert report.details["patches"] == 4 * 12 * 12
    assert report.details["bank_size"] == round(0.1 * 4 * 12 * 12)
    assert report.details["feature_dims"] == 40 + 112


def test_cancel_raises_training_cancelled() -> None:
    progress = Progress()
    progress.stop()
    detector = PatchMemoryDetector({"image_size": 64})
    good = parts(range(2), size=64)
    with pytest.raises(TrainingCancelled):
        detector.fit(TrainingData(good=good, val_good=good[:0]), progress)


def test_max_patches_bounds_the_stored_features() -> None:
    detector = PatchMemoryDetector({"image_size": 64, "layers": ["stride8", "stride16"], "max_patches": 30})
    good = parts(range(3), size=64)
    report = detector.fit(TrainingData(good=good, val_good=good[:0]), Progress())
    assert report.details["patches"] == 30


def test_tiling_scores_large_images_tile_by_tile() -> None:
    config = {"image_size": 192, "tile_size": 96, "tile_overlap": 0.5, "layers": ["stride8", "stride16"]}
    detector = PatchMemoryDetector(config)
    assert detector.origins == [0, 48, 96]
    good = parts(range(3), size=192)
    report = detector.fit(TrainingData(good=good, val_good=good[:0]), Progress())
    assert report.details["tiles_per_image"] == 9
    assert report.details["patches"] == 3 * 9 * 12 * 12
    out = detector.infer(parts(range(50, 52), size=250))
    assert out.maps.shape == (2, 250, 250)


@pytest.mark.parametrize(
    ("size", "tile", "overlap", "expected"),
    [
        (224, 0, 0.25, [0]),
        (224, 224, 0.25, [0]),
        (768, 256, 0.25, [0, 192, 384, 512]),
        (768, 256, 0.0, [0, 256, 512]),
        (700, 256, 0.5, [0, 128, 256, 384, 444]),
    ],
)
def test_tile_origins_cover_the_image(size: int, tile: int, overlap: float, expected: list[int]) -> None:
    assert tile_origins(size, tile, overlap) == expected


def test_stitch_averages_overlapping_tiles() -> None:
    origins = [0, 2]
    maps = np.stack([np.full((2, 2), v, np.float32) for v in (1.0, 2.0, 3.0, 4.0)])  # one image, 2×2 tiles
    out = stitch(maps, images=1, size=6, tile=4, origins=origins)[0]
    assert out[0, 0] == 1.0 and out[0, 5] == 2.0 and out[5, 0] == 3.0 and out[5, 5] == 4.0
    assert out[2, 2] == pytest.approx(2.5)  # covered by all four tiles


def test_greedy_k_center_picks_one_point_per_cluster() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32)
    points = np.concatenate([c + rng.normal(0, 0.1, (50, 2)) for c in centres]).astype(np.float32)
    chosen = greedy_k_center(points, 4)
    assert sorted(set((chosen // 50).tolist())) == [0, 1, 2, 3]


def test_coreset_covers_every_feature() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(3000, 16)).astype(np.float32)
    chosen = coreset_indices(features, 300, projection_dims=8, chunk_size=1000, seed=0)
    assert 290 <= len(chosen) <= 300 and len(np.unique(chosen)) == len(chosen)
    nearest = np.sqrt(((features[:, None, :] - features[chosen][None]) ** 2).sum(-1)).min(1)
    random_pick = rng.choice(3000, len(chosen), replace=False)
    random_nearest = np.sqrt(((features[:, None, :] - features[random_pick][None]) ** 2).sum(-1)).min(1)
    assert nearest.max() < random_nearest.max()


def test_unknown_backbone_and_taps_are_named() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'vgg99'"):
        backbone_spec("vgg99")
    with pytest.raises(ValueError, match="stride2"):
        build_feature_extractor("efficientnet_lite0", ("stride2", "stride8"), load_weights=False)


def test_missing_keras_weights_say_which_file_and_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(BackboneWeightsMissing, match="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5") as info:
        find_weights(backbone_spec("resnet50"), tmp_path / "mine")
    assert str(tmp_path / "mine") in str(info.value)
    assert "efficientnet_lite0" in str(info.value)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"")
    assert find_weights(backbone_spec("resnet50"), tmp_path / "mine").parent == tmp_path / "mine"


def test_keras_application_taps_exist() -> None:
    extractor = build_feature_extractor("mobilenet_v2", load_weights=False)
    shallow, deep = extractor(np.zeros((1, 64, 64, 3), np.float32))
    assert shallow.shape[1:3] == (8, 8) and deep.shape[1:3] == (4, 4)


def test_out_of_fold_scores_never_use_an_images_own_patches() -> None:
    """Each training image is scored against the memory without its own rows: the same score as a memory
    built from the other rows alone, and an odd image that memorised itself scores high again."""
    detector = PatchMemoryDetector({"image_size": 64, "layers": ["stride8", "stride16"], "coreset_fraction": 0.5})
    good = parts(range(8), size=64)
    good[3] = render_part(77, 64, defect="stain")[0]  # one odd "good" image
    detector.fit(TrainingData(good=good, val_good=good[:0]), Progress())
    out_of_fold = detector.out_of_fold_scores(good, Progress())
    in_sample = detector.infer(good).scores
    assert out_of_fold is not None and out_of_fold.shape == (8,)
    assert (out_of_fold >= in_sample - 1e-4).all()
    assert out_of_fold[3] > 1.5 * in_sample[3]  # its own patches had made it look normal
    bank, owners = detector._bank, detector._bank_owner
    assert bank is not None and owners is not None and (owners == 3).any()
    without = PatchMemoryDetector(detector.config)
    without._set_bank(bank[owners != 3])
    assert without.infer(good[3:4]).scores[0] == pytest.approx(out_of_fold[3], rel=1e-4)
    fresh = PatchMemoryDetector(detector.config)  # as loaded from disk: no owners, so no out-of-fold scores
    fresh._set_bank(bank)
    assert fresh.out_of_fold_scores(good, Progress()) is None
