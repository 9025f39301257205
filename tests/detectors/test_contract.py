"""The contract every registered family keeps, run over each one: adding a family to the registry is enough
for it to be checked here (fit on generated parts, shapes, needs, settings, preprocessing, networks, and a
save/load round trip that gives identical scores without pickle)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import tiny_parts_dataset
from inspector_app.core.calibration import MapKind
from inspector_app.core.errors import ModelStoreError
from inspector_app.core.images import load_image
from inspector_app.detectors.base import DEFECT, GOOD, MASK, Detector, Progress
from inspector_app.detectors.common import runtime
from inspector_app.detectors.registry import FAMILIES, detector_class
from inspector_app.detectors.settings import describe
from inspector_app.jobs.training import load_training_data, split_for
from inspector_app.jobs.training_spec import TrainingSpec

KINDS = list(FAMILIES)


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_parts_dataset(tmp_path_factory.mktemp("parts"), size=64)


@pytest.fixture(scope="module", params=KINDS)
def fitted(request: pytest.FixtureRequest, parts: Path) -> tuple[Detector, Any]:
    family = detector_class(request.param)
    detector = family(family.quick_config())
    spec = TrainingSpec(family.kind, [str(parts)], "contract")
    data = load_training_data(detector, split_for(spec, family), spec, Progress())
    assert family.needs <= data.available(), f"{family.kind} needs {set(family.needs)}; the parts give more"
    events: list[dict[str, Any]] = []
    report = detector.fit(data, Progress(events.append))
    assert events, f"{family.kind} reported no progress while fitting"
    return detector, report


def test_the_family_is_described_for_the_wizard(fitted: tuple[Detector, Any]) -> None:
    detector, _ = fitted
    family, defaults = type(detector), type(detector).default_config()
    assert family.kind in FAMILIES and family.title and family.description
    assert family.needs and family.needs <= {GOOD, DEFECT, MASK}
    assert isinstance(family.map_kind, MapKind)
    assert set(family.settings) <= set(defaults), "a described setting the family does not have"
    assert set(family.quick_config()) <= set(defaults)
    for key, setting in family.settings.items():
        if setting.depends_on:
            assert setting.depends_on[0] in defaults, f"{key} depends on an unknown setting"
        if setting.choices and isinstance(defaults[key], str):
            assert defaults[key] in setting.choices, f"{key}'s default is not among its choices"
    assert all(describe(key, family.settings).label for key in defaults)
    estimate = family.estimate_seconds(family.default_config(), 100)
    assert estimate is None or estimate > 0


def test_inference_gives_a_finite_score_and_a_map_at_the_input_size(fitted: tuple[Detector, Any]) -> None:
    detector, report = fitted
    assert report.seconds >= 0
    images = np.stack([np.full((50, 70, 3), 120, np.uint8), np.zeros((50, 70, 3), np.uint8)])
    out = detector.infer(images)
    assert out.scores.shape == (2,) and out.maps.shape == (2, 50, 70) and out.maps.dtype == np.float32
    assert np.isfinite(out.scores).all() and np.isfinite(out.maps).all()


def test_preprocessing_and_networks_are_declared(fitted: tuple[Detector, Any]) -> None:
    detector, _ = fitted
    pre = detector.preprocessing()
    assert pre.size[0] > 0 and pre.size[1] > 0
    assert pre.colour in {"RGB", "grey"} and pre.scale in {"0..1", "0..255"}
    assert pre.to_json()["size"] == list(pre.size)
    networks = detector.networks()
    keras = runtime.keras()
    assert networks and all(isinstance(net, keras.Model) for net in networks.values())


def test_save_and_load_give_identical_scores_without_pickle(fitted: tuple[Detector, Any], tmp_path: Path,
                                                            parts: Path) -> None:
    detector, _ = fitted
    folder = tmp_path / "version"
    folder.mkdir()
    detector.save(folder)
    assert not [p for p in folder.rglob("*") if p.suffix in {".pkl", ".pickle"}]
    for array in folder.rglob("*.npy"):
        np.load(array, allow_pickle=False)  # plain arrays, no objects
    loaded = type(detector).load(folder, detector.config)
    test_images = sorted((parts / "test").rglob("*.png"))[:4]
    images = np.stack([load_image(p) for p in test_images])
    before, after = detector.infer(images), loaded.infer(images)
    np.testing.assert_array_equal(after.scores, before.scores)
    np.testing.assert_array_equal(after.maps, before.maps)


def test_a_damaged_network_or_array_file_is_reported_as_corrupt(fitted: tuple[Detector, Any], tmp_path: Path) -> None:
    """Every family reads its files through ``detectors.common.model_files``: a damaged file says which and why."""
    detector, _ = fitted
    folder = tmp_path / "version"
    folder.mkdir()
    detector.save(folder)
    damaged = sorted(p for p in folder.rglob("*") if p.suffix in {".keras", ".npy"})
    assert damaged, "the family saved neither a network nor an array"
    for path in damaged:
        original = path.read_bytes()
        path.write_bytes(b"not what was saved")
        with pytest.raises(ModelStoreError, match=f"{path.name} is corrupt"):
            type(detector).load(folder, detector.config)
        path.write_bytes(original)
