"""The training wizard end to end with the real training child: pages, progress, calibration, save, activation
in a running window, cancel, SIGKILL of the child, and the threshold stored in the version's metadata.

Every real training imports TensorFlow in a child (~5 s), so this file runs four of them: one module fixture
(the previously active model) and one each for the end-to-end run, cancel and kill.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from helpers import tiny_parts_dataset
from inspector_app.core.images import load_image
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.gui.main_window import MainWindow
from inspector_app.gui.inspection.source_panel import SourceSpec
from inspector_app.gui.training_wizard import TrainingWizard
from inspector_app.gui.training_wizard.device_probe import DeviceProbe
from inspector_app.gui.training_wizard.wizard import CALIBRATION, DATA, FAMILY, FINISH, PARAMETERS, TRAINING
from inspector_app.jobs.training_spec import TrainingSpec

TINY = {"image_size": 32, "epochs": 2, "base_filters": 8, "bottleneck": 16, "batch_size": 8}
LONG = {**TINY, "epochs": 300, "early_stopping": 0}  # stopped long before the end
NAME = "parts"


def plain_layout(mvtec: Path, dest: Path) -> Path:
    """The tiny MVTec dataset as good/ + defect/<type>/ + masks/<type>/, so validation holds defects too."""
    for path in sorted((mvtec / "train" / "good").glob("*.png")) + sorted((mvtec / "test" / "good").glob("*.png")):
        (dest / "good").mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest / "good" / f"{path.parent.parent.name}_{path.name}")
    for kind in ("scratch", "hole", "stain"):
        shutil.copytree(mvtec / "test" / kind, dest / "defect" / kind)
        shutil.copytree(mvtec / "ground_truth" / kind, dest / "masks" / kind)
    return dest


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    return plain_layout(tiny_parts_dataset(root / "mvtec"), root / "plain")


@pytest.fixture(scope="module")
def trained(parts: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A data dir whose active model is parts@v1, trained by the real CLI, and its score on one image."""
    home = tmp_path_factory.mktemp("trained")
    spec = home / "spec.json"
    spec.write_text(json.dumps({"family": "autoencoder", "data": [str(parts)], "name": NAME, "config": TINY,
                                "activate": True}), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "inspector_app", "--data-dir", str(home), "train", "--spec",
                           str(spec), "--json-progress"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    from inspector_app.detectors.loaded_model import LoadedModel  # noqa: PLC0415 - TensorFlow only here

    store = ModelStore(home)
    image = load_image(next((parts / "good").glob("*.png")))[None]
    score = float(LoadedModel.load(store, ModelRef(NAME, "v1")).inspect(image).scores[0])
    return {"home": home, "image": image, "score": score}


@pytest.fixture
def store(trained: dict[str, Any], tmp_path: Path) -> ModelStore:
    """A private copy of the trained data dir: parts@v1 active."""
    home = tmp_path / "home"
    shutil.copytree(trained["home"], home)
    return ModelStore(home)


@pytest.fixture(autouse=True)
def known_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TensorFlow probe child per wizard: the device line is answered at once."""
    monkeypatch.setattr(DeviceProbe, "known", "CPU only (2 cores) — training will be slower")


def prepare(qtbot: Any, wizard: TrainingWizard, answers: list[str] | None = None) -> TrainingWizard:
    """Register the wizard for clean-up and answer its questions without a dialog."""
    asked = answers if answers is not None else []
    wizard.ask = lambda title, text, buttons: asked.pop(0) if asked else buttons[-1]  # type: ignore[method-assign]
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def go_to_training(qtbot: Any, wizard: TrainingWizard) -> None:
    for expected in (FAMILY, DATA, PARAMETERS):
        assert wizard.currentId() == expected
        assert wizard.currentPage().isComplete(), f"page {expected} is not complete"
        wizard.next()
    assert wizard.currentId() == TRAINING


def test_end_to_end_in_a_running_window(qtbot: Any, store: ModelStore, parts: Path, tmp_path: Path) -> None:
    win = MainWindow(store, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.worker.model_loaded, timeout=30000):
            win.choose_model(ModelRef(NAME, "v1"))
        win.open_source(SourceSpec("folder", str(parts / "good"), loop=True, fps=10))
        assert win.train_action.isEnabled()
        win.train_action.trigger()
        wizard = prepare(qtbot, win.training_wizard)
        assert not wizard.isModal()
        assert wizard.currentId() == FAMILY and wizard.family_page.selected() == "autoencoder"
        wizard.next()
        assert wizard.currentId() == DATA and not wizard.data_page.isComplete()
        wizard.data_page.folder.setText(str(parts))
        wizard.data_page.rescan()
        assert wizard.data_page.isComplete() and wizard.data_page.counts.rowCount() == 4
        wizard.next()
        assert wizard.currentId() == PARAMETERS
        params = wizard.parameters_page
        assert params.editors["epochs"].get() == 60  # the family's default
        for key, value in TINY.items():
            params.editors[key].set(value)
        params.name.setCurrentText(NAME)
        assert f"{NAME}@v2" in params.version_hint.text() and "per epoch" in params.estimate.text()
        events: list[dict[str, Any]] = []
        wizard.process.progress.connect(events.append)
        with qtbot.waitSignal(wizard.process.finished, timeout=90000) as finished:
            wizard.next()
            assert wizard.currentId() == TRAINING
            inspected_at_start = win.stats.inspected
        assert finished.args[0] is True, finished.args[2]
        assert finished.args[1] == f"{NAME}@v2"
        assert win.stats.inspected > inspected_at_start  # the window kept inspecting during training
        stages = {e["stage"] for e in events}
        assert {"device", "data", "train", "calibrate", "save", "done"} <= stages
        assert [e["epoch"] for e in events if e["stage"] == "train" and e.get("epoch")] == [1, 2]
        assert wizard.training_page.bar.value() == 2 and len(wizard.training_page.loss_curve.getData()[0]) == 2
        assert wizard.button(wizard.WizardButton.BackButton).isHidden()  # the version exists: no going back

        wizard.next()
        assert wizard.currentId() == CALIBRATION
        page = wizard.calibration_page
        assert len(page.good) > 0 and len(page.defect) == 3 and len(page.files) == len(page.good) + 3
        moved = float(np.median(page.good))
        page.set_threshold(moved)
        assert f"of {len(page.good)})" in page.false_alarms.text() and "of 3)" in page.misses.text()
        qtbot.waitUntil(lambda: page.nearest.count() > 1, timeout=3000)
        wizard.next()
        assert wizard.currentId() == FINISH
        ref = ModelRef(NAME, "v2")
        assert store.meta(ref)["calibration"]["threshold"] == pytest.approx(moved)
        assert store.meta(ref)["calibration"]["method"] == "manual"
        wizard.finish_page.label.setText("tiny parts")
        wizard.finish_page.notes.setPlainText("trained by the test")
        with qtbot.waitSignal(win.worker.model_loaded, timeout=30000) as loaded:
            wizard.button(wizard.WizardButton.FinishButton).click()
        assert loaded.args[0].ref == ref and store.active() == ref
        assert store.meta(ref)["label"] == "tiny parts" and store.meta(ref)["notes"] == "trained by the test"
        qtbot.waitUntil(lambda: win.model.ref == ref, timeout=5000)

        win._fill_rollback_menu()
        actions = [a for a in win.rollback_menu.actions() if a.text()]
        assert [a.text().split("  ·  ")[0] for a in actions] == [f"{NAME}@v2", f"{NAME}@v1"]
        assert "“tiny parts”" in actions[0].text()  # the label typed on the Finish page
        with qtbot.waitSignal(win.worker.model_loaded, timeout=30000) as rolled:
            actions[1].trigger()
        assert rolled.args[0].ref == ModelRef(NAME, "v1") and store.active() == ModelRef(NAME, "v1")
    finally:
        win.shutdown()


def test_cancel_mid_training_leaves_no_version(qtbot: Any, store: ModelStore, parts: Path) -> None:
    wizard = prepare(qtbot, TrainingWizard(store, initial=TrainingSpec("autoencoder", [str(parts)], NAME, LONG)))
    with qtbot.waitSignal(wizard.process.progress, timeout=60000,
                          check_params_cb=lambda e: e.get("stage") == "train" and e.get("epoch", 0) >= 1):
        go_to_training(qtbot, wizard)
    assert wizard.button(wizard.WizardButton.BackButton).isHidden()  # no Back while the child runs
    with qtbot.waitSignal(wizard.process.finished, timeout=30000) as finished:
        wizard.training_page.stop.click()
    ok, model, reason = finished.args
    assert not ok and not model and "cancelled" in reason
    assert store.versions(NAME) == ["v1"] and store.active() == ModelRef(NAME, "v1")
    assert sorted(p.name for p in (store.models_dir / NAME).iterdir()) == ["v1"]  # no temporary folder left
    assert not wizard.training_page.isComplete() and wizard.training_page.retry.isVisible()


def test_killed_child_leaves_no_version_and_the_active_model_answers(
    qtbot: Any, store: ModelStore, parts: Path, trained: dict[str, Any]
) -> None:
    wizard = prepare(qtbot, TrainingWizard(store, initial=TrainingSpec("autoencoder", [str(parts)], NAME, LONG)))
    with qtbot.waitSignal(wizard.process.progress, timeout=60000,
                          check_params_cb=lambda e: e.get("stage") == "train" and e.get("epoch", 0) >= 1):
        go_to_training(qtbot, wizard)
    with qtbot.waitSignal(wizard.process.finished, timeout=30000) as finished:
        os.kill(wizard.process.pid(), signal.SIGKILL)
    ok, model, reason = finished.args
    assert not ok and not model
    assert "killed (SIGKILL, signal 9)" in reason and "last lines from the training process" in reason
    assert "killed" in wizard.training_page.failure.text() and wizard.training_page.failure.isVisible()
    assert "No version was written" in wizard.training_page.stage.text()
    reopened = ModelStore(store.root)
    assert reopened.versions(NAME) == ["v1"] and reopened.active() == ModelRef(NAME, "v1")
    from inspector_app.detectors.loaded_model import LoadedModel  # noqa: PLC0415

    again = LoadedModel.load(reopened, reopened.active())
    assert float(again.inspect(trained["image"]).scores[0]) == pytest.approx(trained["score"], rel=1e-5)


def test_threshold_moved_on_the_calibration_page_is_stored(qtbot: Any, store: ModelStore) -> None:
    wizard = prepare(qtbot, TrainingWizard(store))
    wizard.job.model = f"{NAME}@v1"  # as if the child had just written it
    page = wizard.calibration_page
    page.initializePage()
    before = store.meta(ModelRef(NAME, "v1"))["calibration"]
    assert page.threshold() == pytest.approx(before["threshold"])
    target = (float(page.good.min()) + before["threshold"]) / 2
    page.histogram.line.setValue(target)  # what dragging the line does
    assert page.spin.value() == pytest.approx(target, rel=1e-3)
    assert page.validatePage()
    after = store.meta(ModelRef(NAME, "v1"))["calibration"]
    assert after["threshold"] == pytest.approx(target) and after["method"] == "manual"
    assert after["score_low"] == before["score_low"]


def test_discarding_an_unfinished_version(qtbot: Any, store: ModelStore) -> None:
    shutil.copytree(store.folder(ModelRef(NAME, "v1")), store.models_dir / NAME / "v2")
    wizard = prepare(qtbot, TrainingWizard(store), answers=["Discard"])
    wizard.job.model = f"{NAME}@v2"
    wizard.reject()
    assert store.versions(NAME) == ["v1"] and not wizard.isVisible()
    active = prepare(qtbot, TrainingWizard(store), answers=["Discard"])
    active.job.model = f"{NAME}@v1"  # the active version is never deleted
    active.reject()
    assert store.versions(NAME) == ["v1"]
