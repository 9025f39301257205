"""The CAM classifier on generated surfaces with drawn cracks: it separates cracks it never saw after a short
training, its map is the last features weighted by the defect class's dense weights in one Keras model,
save/load gives identical scores, evaluate scores only the unseen split, VGG16 never downloads.

Where the map lies is looked at in figures (``scripts/screenshots/cam_figures.py``: generated parts in
docs/screenshots/cam_generated_parts.png, real cracks rendered locally): at this test's 64 px the backbone's
last features form a 2×2 grid whose cells each see the whole image, too coarse to test localisation."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector_app.core.datasets import open_dataset
from inspector_app.core.images import load_image, save_image
from inspector_app.core.modelstore import ModelStore
from inspector_app.detectors.backbones.extractors import BackboneWeightsMissing
from inspector_app.detectors.base import Progress
from inspector_app.detectors.cam_classifier import CamClassifierDetector
from inspector_app.detectors.cam_classifier.network import CAM_LAYER, CLASSIFIER, build_trunk, cam_backbone
from inspector_app.detectors.common import runtime
from inspector_app.detectors.loaded_model import LoadedModel
from inspector_app.jobs.evaluation import evaluate
from inspector_app.jobs.training import run_training
from inspector_app.jobs.training_spec import TrainingSpec

SIZE = 64
PER_CLASS = 30
#: Short and steep: a test cannot afford the recipe's lr 1e-4 for many epochs.
QUICK = {"image_size": SIZE, "epochs": 10, "batch_size": 8, "learning_rate": 1e-3, "augment": False,
         "early_stopping": 0}


def _surface(rng: np.random.Generator) -> np.ndarray:
    """A grey, softly textured surface like concrete."""
    noise = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 2.0)
    grey = np.clip(135 + 40 * noise / max(float(noise.std()), 1e-6), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _crack(rng: np.random.Generator) -> np.ndarray:
    """A surface with a dark jagged crack inside one random quadrant."""
    image, mask = _surface(rng), np.zeros((SIZE, SIZE), np.uint8)
    half = SIZE // 2
    corner = rng.integers(0, 2, 2) * half
    points = [corner + rng.integers(3, 8, 2)]
    for _ in range(4):
        points.append(np.clip(points[-1] + rng.integers(2, 8, 2), corner + 2, corner + half - 3))
    cv2.polylines(mask, [np.array(points, np.int32)], False, 255, thickness=4)
    image[mask > 0] = (image[mask > 0] * 0.25).astype(np.uint8)
    return image


@pytest.fixture(scope="module")
def cracks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain-layout dataset: good/ surfaces and defect/ cracked ones."""
    root = tmp_path_factory.mktemp("cracks")
    rng = np.random.default_rng(5)
    (root / "good").mkdir()
    (root / "defect").mkdir()
    for i in range(PER_CLASS):
        save_image(root / "good" / f"g{i:02d}.png", _surface(rng))
        save_image(root / "defect" / f"c{i:02d}.png", _crack(rng))
    return root


@pytest.fixture(scope="module")
def trained(cracks: Path, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    store = ModelStore(tmp_path_factory.mktemp("store"))
    ref = run_training(TrainingSpec("cam_classifier", [str(cracks)], "cracks", dict(QUICK)), store, Progress())
    return LoadedModel.load(store, ref)


def _unseen(model: LoadedModel, root: Path) -> list[Path]:
    return [root / name for name in model.meta["split"]["datasets"][0]["test"]]


def test_a_short_training_separates_cracks_it_never_saw(trained: LoadedModel, cracks: Path) -> None:
    result = evaluate(trained, str(cracks))
    assert result.scored == len(_unseen(trained, cracks)) == 12 and result.left_out == 2 * PER_CLASS - 12
    assert result.image_auroc >= 0.9, f"AUROC {result.image_auroc:.3f} on unseen generated cracks"
    assert trained.meta["calibration"]["map_kind"] == "explanation"
    assert trained.meta["calibration"]["details"]["objective"] == "best_f1"


def test_one_keras_model_gives_score_and_map_from_the_defect_weights(trained: LoadedModel) -> None:
    keras = runtime.keras()
    model = trained.detector.networks()["cam_classifier"]
    assert len(model.outputs) == 2 and tuple(model.outputs[1].shape[1:]) == (SIZE, SIZE, 1)
    layers = [layer for layer in model._flatten_layers()]
    assert not [layer for layer in layers if isinstance(layer, keras.layers.Lambda)]
    images = np.random.default_rng(0).integers(0, 255, (2, SIZE, SIZE, 3)).astype(np.float32)
    trunk = model.layers[1]
    features = np.asarray(trunk(images, training=False))
    kernel, _ = model.get_layer(CLASSIFIER).get_weights()
    expected = features @ kernel[:, 1]  # each location's features weighted by the defect class's weights
    cam_only = keras.Model(model.input, model.get_layer(CAM_LAYER).output)
    np.testing.assert_allclose(np.asarray(cam_only(images, training=False))[..., 0], expected, rtol=1e-4, atol=1e-4)
    score, cam = model(images, training=False)
    probabilities = keras.Model(model.input, model.get_layer(CLASSIFIER).output)(images, training=False)
    np.testing.assert_allclose(np.asarray(score)[:, 0], np.asarray(probabilities)[:, 1], rtol=1e-6)
    assert np.asarray(cam).shape == (2, SIZE, SIZE, 1)


def test_saved_and_loaded_scores_are_identical(trained: LoadedModel, cracks: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    trained.detector.save(folder)
    assert [p.name for p in folder.iterdir()] == ["model.keras"]
    loaded = CamClassifierDetector.load(folder, trained.detector.config)
    images = np.stack([load_image(p) for p in sorted((cracks / "defect").iterdir())[:3]])
    before, after = trained.detector.infer(images), loaded.infer(images)
    np.testing.assert_array_equal(after.scores, before.scores)
    np.testing.assert_array_equal(after.maps, before.maps)


def test_vgg16_without_its_weights_says_where_to_put_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    expected = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5.*never downloads"
    with pytest.raises(BackboneWeightsMissing, match=expected):
        build_trunk(cam_backbone("vgg16"), str(tmp_path / "weights"))


def test_a_dataset_without_defects_is_refused_with_what_to_add(tmp_path: Path) -> None:
    (tmp_path / "only_good" / "good").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        save_image(tmp_path / "only_good" / "good" / f"{i}.png", _surface(rng))
    assert open_dataset(tmp_path / "only_good").counts() == {"good": 6}
    with pytest.raises(Exception, match="needs defect, good data; this data lacks defect"):
        run_training(TrainingSpec("cam_classifier", [str(tmp_path / "only_good")], "x", dict(QUICK)),
                     ModelStore(tmp_path / "store"), Progress())
