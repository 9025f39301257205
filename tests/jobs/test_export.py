"""Every registered family exports to SavedModel and TFLite, and the shipped example script scores like the app.

Parametrised over the registry, like the contract test: a family merged later is covered without editing this
file, and one that does not implement ``Detector.export_parts`` fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import tiny_parts_dataset
from inspector_app.core.calibration import Calibration
from inspector_app.core.demo_parts import render_part
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelRef
from inspector_app.detectors.base import Progress
from inspector_app.detectors.loaded_model import LoadedModel
from inspector_app.detectors.registry import FAMILIES, detector_class
from inspector_app.jobs.export import FORMATS, MODEL_JSON, TOLERANCE, export_model
from inspector_app.jobs.training import load_training_data, split_for
from inspector_app.jobs.training_spec import TrainingSpec


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_parts_dataset(tmp_path_factory.mktemp("parts"), size=64)


@pytest.fixture(scope="module", params=list(FAMILIES))
def model(request: pytest.FixtureRequest, parts: Path) -> LoadedModel:
    """A quickly fitted model of one family, with a threshold between its good and defect scores."""
    family = detector_class(request.param)
    detector = family(family.quick_config())
    spec = TrainingSpec(family.kind, [str(parts)], "export")
    data = load_training_data(detector, split_for(spec, family), spec, Progress())
    detector.fit(data, Progress())
    good = detector.infer(data.val_good).scores
    meta: dict[str, Any] = {"family": family.kind, "config": detector.config, "calibration": Calibration(
        float(np.percentile(good, 90)), float(np.median(good)), float(np.median(good)), "test").to_json()}
    return LoadedModel(ModelRef("parts", "v1"), meta, detector)


def check_images(model: LoadedModel) -> list[np.ndarray]:
    """Good and defective parts at the working size and larger (a camera's frames are shrunk, with OpenCV's area
    resize, which the script reproduces exactly), so resizing is compared too. Frames smaller than the working
    size are enlarged within one grey level of OpenCV and may differ by about 1 %: the guide says so."""
    side = working_size(model)
    return [render_part(700, side)[0], render_part(701, side, defect="scratch")[0],
            render_part(702, side * 3 // 2, defect="hole")[0], render_part(703, side * 5 // 4)[0]]


def working_size(model: LoadedModel) -> int:
    return model.detector.export_parts().working_size


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_export_scores_like_the_app(model: LoadedModel, fmt: str, tmp_path: Path) -> None:
    out = tmp_path / "export"
    comparison = export_model(model, fmt, out, check_images(model))
    description = json.loads((out / MODEL_JSON).read_text(encoding="utf-8"))
    print(f"{model.family} {fmt}: largest difference {comparison.max_difference:.2e} (tolerance {TOLERANCE})")
    assert comparison.images == 4 and comparison.passed, comparison.to_json()
    assert comparison.verdicts_agree == 4
    assert description["check"]["passed"] and description["calibration"]["threshold"] == model.calibration.threshold
    assert (out / "line_verdict.py").is_file() and (out / "line_scoring.py").is_file()
    for network in description["networks"].values():
        assert (out / network["file"]).exists()
        assert (out / network["file"]).is_dir() == (fmt == "savedmodel")
    assert not list(out.rglob("*.pkl")) and not list(out.rglob("*.pickle"))
    if fmt == "tflite":  # the example itself, run as a line engineer would, from another folder
        part = tmp_path / "part.png"
        save_image(part, check_images(model)[1])
        run = subprocess.run([sys.executable, str(out / "line_verdict.py"), str(out), str(part)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300, check=True)
        ours = model.inspect(check_images(model)[1][None])
        verdict, score = run.stdout.split("\t")[1:3]
        assert verdict == ("FAIL" if ours.failed[0] else "PASS"), run.stdout
        assert float(score.split()[1]) == pytest.approx(float(ours.scores[0]), rel=1e-3, abs=1e-4), run.stdout


def test_a_changed_export_fails_the_check(model: LoadedModel, tmp_path: Path) -> None:
    """The check can fail: the arrays beside the network, a little off, give scores over the tolerance; a family
    that ships no arrays (its whole scoring in the network and model.json) gets a score_low a little off."""
    from inspector_app.jobs.export import compare  # noqa: PLC0415

    out = tmp_path / "export"
    images = check_images(model)
    assert export_model(model, "tflite", out, images).passed
    arrays = list(out.glob("*.npy"))
    for array in arrays:
        np.save(array, np.load(array) * 1.5, allow_pickle=False)
    if not arrays:
        description = json.loads((out / MODEL_JSON).read_text(encoding="utf-8"))
        cal = description["calibration"]
        cal["score_low"] -= 0.05 * (cal["threshold"] - cal["score_low"])
        (out / MODEL_JSON).write_text(json.dumps(description), encoding="utf-8")
    assert not compare(model, out, images).passed


def test_an_export_never_overwrites_a_folder(model: LoadedModel, tmp_path: Path) -> None:
    from inspector_app.core.errors import InspectorError  # noqa: PLC0415

    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InspectorError, match="not empty"):
        export_model(model, "tflite", tmp_path, check_images(model))
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


#: Settings whose scoring takes other steps than the quick ones: SSIM error, pretrained features before the
#: autoencoder, tiles stitched back together, the U-Net's peak probability, the metric family's cosine scorings.
#: Kept to the families that have such settings. A quick U-Net draws no region at the contour level (its
#: scores are the peak fallback, 0.07-0.09 on these parts); a 0.5 prior makes it draw regions of 85-120 px,
#: so the region-area step is compared too.
VARIANTS = {
    "autoencoder": [{"map_metric": "ssim+l2"}, {"input_space": "features", "image_size": 64}],
    "patch_memory": [{"image_size": 96, "tile_size": 64, "tile_overlap": 0.5}],
    "unet": [{"score": "max_probability"}, {"prior": 0.5}, {"image_size": 48, "tile_size": 32, "tile_overlap": 0.5}],
    "metric": [{"scoring": "lof"}, {"scoring": "centre"}],
}


@pytest.mark.parametrize(("kind", "settings"), [(k, s) for k, variants in VARIANTS.items() for s in variants])
def test_other_scoring_steps_export_too(kind: str, settings: dict[str, Any], parts: Path, tmp_path: Path) -> None:
    family = detector_class(kind)
    detector = family({**family.quick_config(), **settings})
    spec = TrainingSpec(kind, [str(parts)], "export")
    data = load_training_data(detector, split_for(spec, family), spec, Progress())
    detector.fit(data, Progress())
    good = detector.infer(data.val_good).scores
    meta: dict[str, Any] = {"family": kind, "config": detector.config, "calibration": Calibration(
        float(good.max()), float(np.median(good)), float(np.median(good)), "test").to_json()}
    model = LoadedModel(ModelRef("parts", "v1"), meta, detector)
    comparison = export_model(model, "tflite", tmp_path / "export", check_images(model))
    print(f"{kind} {settings}: largest difference {comparison.max_difference:.2e} (tolerance {TOLERANCE})")
    assert comparison.passed, comparison.to_json()


def test_the_export_command_without_a_model_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from inspector_app.cli import main  # noqa: PLC0415

    out = tmp_path / "out"
    assert main(["--data-dir", str(tmp_path), "export", "--format", "tflite", "--out", str(out)]) == 1
    assert "no model given and no active model" in capsys.readouterr().err
    assert not out.exists()


def _line_script() -> Any:
    from inspector_app.jobs.export import SCORER, _load_script  # noqa: PLC0415

    return _load_script(SCORER)


def test_the_scripts_region_area_is_opencvs() -> None:
    """The script's numpy labelling gives the U-Net's largest 8-connected region exactly as OpenCV counts it, on
    smoothed noise cut at levels from sparse specks to one sprawling region (quick models rarely draw any)."""
    import cv2  # noqa: PLC0415

    from inspector_app.detectors.unet.scoring import largest_region_areas  # noqa: PLC0415

    script, rng = _line_script(), np.random.default_rng(0)
    for _ in range(60):
        height, width = rng.integers(1, 48, size=2)
        noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), rng.uniform(0.3, 3.0))
        level = float(np.quantile(noise, rng.uniform(0.1, 0.95)))
        assert script._largest_region_area(noise, level) == largest_region_areas(noise[None], level)[0]
    assert script._largest_region_area(np.zeros((5, 5), np.float32), 0.5) == 0


def test_the_scripts_outlier_factor_is_scikit_learns() -> None:
    """The script's LOF equals LocalOutlierFactor(novelty=True).score_samples, negated, also for a query that is
    a training row and for as many neighbours as rows allow."""
    from sklearn.neighbors import LocalOutlierFactor  # noqa: PLC0415

    script, rng = _line_script(), np.random.default_rng(1)
    for rows, neighbours in ((40, 20), (6, 5), (120, 7)):
        normal = rng.normal(size=(rows, 16))
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        queries = rng.normal(size=(9, 16))
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        queries[0] = normal[2]
        expected = -LocalOutlierFactor(n_neighbors=neighbours, novelty=True).fit(normal).score_samples(queries)
        np.testing.assert_allclose(script._OutlierFactor(normal, neighbours).factor(queries), expected, rtol=1e-9)
