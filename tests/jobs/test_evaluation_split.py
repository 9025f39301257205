"""Families that learn from defects: the seeded train / validation / test split, and evaluate scoring only
images training never saw (a fake family remembers every image it was shown)."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers import GoodOnlySeenImagesDetector, SeenImagesDetector
from inspector_app.core.datasets import open_dataset, write_mvtec_layout
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelStore
from inspector_app.detectors import registry
from inspector_app.detectors.base import Progress
from inspector_app.detectors.loaded_model import LoadedModel
from inspector_app.jobs.evaluation import evaluate, format_table
from inspector_app.jobs.training import run_training, split_for
from inspector_app.jobs.training_spec import TrainingSpec

SIZE = 32  # the fake family's input size, so loading for training leaves the pixels as they are


def _noise(rng: np.random.Generator, count: int, bright: int = 0) -> list[np.ndarray]:
    """Distinct images (random noise); defects are brighter, so the fake family's score separates them."""
    return [np.clip(rng.integers(0, 160, (SIZE, SIZE, 3)) + bright, 0, 255).astype(np.uint8) for _ in range(count)]


def _plain_dataset(root: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folders = {"good": _noise(rng, 20), "defect/scratch": _noise(rng, 8, bright=90),
               "defect/hole": _noise(rng, 7, bright=90)}
    for name, images in folders.items():
        (root / name).mkdir(parents=True)
        for i, image in enumerate(images):
            save_image(root / name / f"{Path(name).name}{i}.png", image)
    return root


def _mvtec_dataset(root: Path) -> Path:
    rng = np.random.default_rng(1)
    defects = {kind: [(image, None) for image in _noise(rng, 6, bright=90)] for kind in ("scratch", "hole")}
    return write_mvtec_layout(root, _noise(rng, 16), _noise(rng, 5), defects)


@pytest.fixture
def seen_images_family(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.FAMILIES, "seen_images", "helpers:SeenImagesDetector")


def _train(data: Path, store: ModelStore) -> LoadedModel:
    ref = run_training(TrainingSpec("seen_images", [str(data)], "seen"), store, Progress())
    return LoadedModel.load(store, ref)


@pytest.mark.parametrize("layout", ["plain", "mvtec"])
@pytest.mark.usefixtures("seen_images_family")
def test_evaluate_never_scores_an_image_training_saw(layout: str, tmp_path: Path) -> None:
    data = _plain_dataset(tmp_path / "plain") if layout == "plain" else _mvtec_dataset(tmp_path / "mvtec")
    model = _train(data, ModelStore(tmp_path / "store"))
    detector = model.detector
    assert isinstance(detector, SeenImagesDetector) and detector.trained_on
    result = evaluate(model, str(data))
    total = len(open_dataset(data).samples)
    assert detector.shown, "evaluate scored nothing"
    assert not detector.shown & detector.trained_on, "evaluate scored images the model was trained or validated on"
    record = model.meta["split"]["datasets"][0]
    assert result.left_out == len(record["train"]) + len(record["validation"]) > 0
    assert result.scored == len(record["test"]) == len(detector.shown) == total - result.left_out
    assert f"scored {result.scored} image(s); left out {result.left_out}" in format_table(result)


@pytest.mark.usefixtures("seen_images_family")
def test_another_dataset_is_scored_whole_and_a_moved_one_is_still_recognised(tmp_path: Path) -> None:
    data = _plain_dataset(tmp_path / "line")
    model = _train(data, ModelStore(tmp_path / "store"))
    other = _plain_dataset(tmp_path / "other", seed=7)
    result = evaluate(model, str(other))
    assert (result.scored, result.left_out) == (35, 0)
    moved = tmp_path / "elsewhere" / "line"
    moved.parent.mkdir()
    shutil.move(data, moved)
    result = evaluate(model, str(moved))
    assert result.left_out > 0 and not model.detector.shown & model.detector.trained_on


def test_the_split_is_seeded_stratified_disjoint_and_recorded(tmp_path: Path) -> None:
    data = _plain_dataset(tmp_path / "plain")
    spec = TrainingSpec("seen_images", [str(data)], "seen", seed=3)
    split = split_for(spec, SeenImagesDetector)
    parts = [split.train, split.validation, split.test]
    paths = [{s.path for s in part} for part in parts]
    assert sum(map(len, paths)) == 35 and len(set.union(*paths)) == 35  # every image once
    per_type = [Counter(s.defect_type for s in part) for part in parts]
    assert [c["good"] for c in per_type] == [12, 4, 4]  # 60 / 20 / 20
    assert [c["scratch"] for c in per_type] == [4, 2, 2] and [c["hole"] for c in per_type] == [4, 2, 1]
    assert split_for(spec, SeenImagesDetector).record == split.record  # same seed, same split
    other = split_for(TrainingSpec("seen_images", [str(data)], "seen", seed=4), SeenImagesDetector)
    assert {s.path for s in other.test} != paths[2]
    record = split.record
    assert record["fractions"] == {"train": 0.6, "validation": 0.2, "test": 0.2} and record["seed"] == 3
    assert sorted(record["datasets"][0]["test"]) == sorted(s.path.relative_to(data).as_posix() for s in split.test)


def test_good_only_families_calibrate_on_a_labelled_share_of_the_test_images(tmp_path: Path) -> None:
    data = _mvtec_dataset(tmp_path / "mvtec")  # train/good 16; test: good 5, scratch 6, hole 6
    split = split_for(TrainingSpec("autoencoder", [str(data)], "ae"), GoodOnlySeenImagesDetector)
    assert {s.split for s in split.train} == {"train"}  # fitted on train/good alone
    drawn = [s for s in split.validation if s.split == "test"]
    assert Counter(s.defect_type for s in drawn) == {"good": 1, "scratch": 1, "hole": 1}
    assert {s.path for s in split.test} == {s.path for s in open_dataset(data).evaluation_samples()} - {
        s.path for s in drawn}
    assert split.defect_share == pytest.approx(2 / 3)  # among the drawn labelled images, not the 4 held-out goods
    record = split.record["datasets"][0]
    assert sorted(record["test"]) == sorted(s.path.relative_to(data).as_posix() for s in split.test)
    explicit = TrainingSpec("autoencoder", [str(data)], "ae", threshold_objective="false_alarm_rate")
    whole = split_for(explicit, GoodOnlySeenImagesDetector)
    assert not whole.test and not whole.record and whole.defect_share is None
    assert {s.split for s in whole.train + whole.validation} == {"train"}


def test_a_good_only_family_is_never_scored_on_its_calibration_images(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.FAMILIES, "seen_good_only", "helpers:GoodOnlySeenImagesDetector")
    data = _mvtec_dataset(tmp_path / "mvtec")
    store = ModelStore(tmp_path / "store")
    model = LoadedModel.load(store, run_training(TrainingSpec("seen_good_only", [str(data)], "g"), store, Progress()))
    details = model.meta["calibration"]["details"]
    assert details["objective"] == "best_f1" and details["defect_share"] == pytest.approx(2 / 3)
    assert details["defect_count"] == 2
    result = evaluate(model, str(data))
    assert not model.detector.shown & model.detector.trained_on, "evaluate scored a calibration image"
    assert result.scored == 14 and result.left_out == 16 + 3
    expected = result.operating_points["stored threshold"]["expected"]
    assert expected["misses"]["total"] == 2 and expected["false_alarms"]["total"] == details["good_count"] == 3 + 1
    assert re.search(r"calibration expected +false alarms 0\.0 % .*0 of 4\)", format_table(result))


