"""Training end to end on generated parts: versions, calibration, cancel (in-process and by signal)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import tiny_parts_dataset
from inspector_app.core.errors import TrainingCancelled
from inspector_app.core.modelstore import ModelStore
from inspector_app.detectors.base import Progress
from inspector_app.detectors.loaded_model import LoadedModel
from inspector_app.jobs.training import run_training
from inspector_app.jobs.training_spec import TrainingSpec

TINY = {"image_size": 32, "epochs": 2, "batch_size": 8, "base_filters": 8, "bottleneck": 16}


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_parts_dataset(tmp_path_factory.mktemp("parts"))


def test_training_writes_a_calibrated_version(parts: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    events: list[dict[str, Any]] = []
    ref = run_training(TrainingSpec("autoencoder", [str(parts)], "widget", {**TINY, "calibration_folds": 2},
                                    activate=True), store, Progress(events.append))
    meta = store.meta(ref)
    assert meta["family"] == "autoencoder" and store.active() == ref
    # The 24 train/good images, and the test/good ones drawn with the defects to calibrate on.
    drawn_good = sum(f.startswith("test/good/") for f in meta["split"]["datasets"][0]["validation"])
    assert drawn_good >= 1 and meta["training_data"]["train_good"] + meta["training_data"]["val_good"] == 24 + drawn_good
    assert len(meta["validation_scores"]["good"]) == meta["training_data"]["val_good"]
    assert meta["calibration"]["threshold"] > meta["calibration"]["score_low"]
    # Calibration folds score every training image too: every good image counts.
    assert meta["calibration"]["details"]["out_of_fold"]
    assert meta["calibration"]["details"]["good_count"] == 24 + drawn_good
    assert len(meta["validation_scores"]["good_out_of_fold"]) == meta["training_data"]["train_good"]
    epochs = [e for e in events if e.get("stage") == "train" and e.get("epoch")]
    assert [e["epoch"] for e in epochs] == [1, 2] and all("loss" in e and "eta" in e for e in epochs)
    assert any(e.get("stage") == "device" for e in events)
    model = LoadedModel.load(store, ref)
    images = np.stack([np.full((50, 70, 3), 128, np.uint8)] * 2)
    result = model.inspect(images)
    assert result.maps.shape == (2, 50, 70) and result.scores.shape == (2,)


def test_cancel_during_training_leaves_no_version_and_keeps_active(parts: Path, tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first = run_training(TrainingSpec("autoencoder", [str(parts)], "widget", dict(TINY), activate=True),
                         store, Progress())
    progress: Progress

    def stop_after_first_epoch(fields: dict[str, Any]) -> None:
        if fields.get("stage") == "train" and fields.get("epoch") == 1:
            progress.stop()

    progress = Progress(stop_after_first_epoch)
    with pytest.raises(TrainingCancelled):
        run_training(TrainingSpec("autoencoder", [str(parts)], "widget", {**TINY, "epochs": 50}, activate=True),
                     store, progress)
    assert store.versions("widget") == [first.version]
    assert store.active() == first
    assert [p.name for p in (tmp_path / "models" / "widget").iterdir()] == [first.version]


def _cli(*args: str, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "inspector_app", "--data-dir", str(data_dir), *args]


def test_sigterm_cancels_cli_training_cleanly(parts: Path, tmp_path: Path) -> None:
    cmd = _cli("train", "--family", "autoencoder", "--data", str(parts), "--name", "widget", "--json-progress",
               "--set", "image_size=32", "--set", "base_filters=8", "--epochs", "200", data_dir=tmp_path)
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert child.stdout is not None
    events = []
    for line in child.stdout:
        events.append(json.loads(line))
        if events[-1].get("stage") == "train" and events[-1].get("epoch", 0) >= 1:
            os.kill(child.pid, signal.SIGTERM)
            break
    rest = child.stdout.read()
    child.stdout.close()
    assert child.wait(timeout=60) == 130
    last = json.loads(rest.strip().splitlines()[-1])
    assert last["event"] == "cancelled"
    assert ModelStore(tmp_path).versions("widget") == []


def test_cli_train_evaluate_infer(parts: Path, tmp_path: Path) -> None:
    run = lambda *a: subprocess.run(_cli(*a, data_dir=tmp_path), capture_output=True, text=True, timeout=300)  # noqa: E731
    out = run("train", "--data", str(parts), "--name", "widget", "--activate", "--set", "image_size=32",
              "--set", "base_filters=8", "--epochs", "2")
    assert out.returncode == 0, out.stderr
    assert "saved widget@v1" in out.stdout
    out = run("evaluate", "--model", "widget", "--data", str(parts), "--json", "--save")
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert 0.0 <= figures["image_auroc"] <= 1.0 and 0.0 <= figures["pixel_auroc"] <= 1.0
    assert set(figures["per_type_auroc"]) == {"scratch", "hole", "stain"}
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    good = next((parts / "test" / "good").iterdir())
    out = run("infer", str(good), str(bad), "--save-overlays", str(tmp_path / "overlays"))
    assert out.returncode == 1  # one file could not be read
    lines = out.stdout.strip().splitlines()
    assert lines[0].split("\t")[1] in {"PASS", "FAIL"}
    assert "ERROR" in lines[1] and "broken.png" in lines[1]
    assert len(list((tmp_path / "overlays").iterdir())) == 1
    out = run("models")
    assert "widget@v1" in out.stdout and "image AUROC" in out.stdout


def test_cli_reports_a_missing_dataset_clearly(tmp_path: Path) -> None:
    out = subprocess.run(_cli("train", "--data", str(tmp_path / "nowhere"), "--name", "x", data_dir=tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "nowhere" in out.stderr
    assert "Traceback" not in out.stderr
