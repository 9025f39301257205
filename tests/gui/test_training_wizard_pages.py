"""The wizard's parts without a real training: job model, data summary, the child-process wrapper with fake
children (crash, error, cancel), the device probe, the pages' checks, and the Train/Model menus of the window.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from helpers import tiny_parts_dataset
from inspector_app.core.images import save_image
from inspector_app.core.calibration import Objective, objective_threshold
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.gui.main_window import MainWindow
from inspector_app.gui.training_wizard import TrainingWizard
from inspector_app.gui.training_wizard.calibration_page import CalibrationPage
from inspector_app.gui.training_wizard.data_summary import DataSummary, summarize
from inspector_app.gui.training_wizard.device_probe import DeviceProbe
from inspector_app.gui.training_wizard.estimates import epoch_seconds, estimate_text
from inspector_app.gui.training_wizard.family_page import FamilyPage
from inspector_app.gui.training_wizard.job_model import TrainingJob
from inspector_app.gui.training_wizard.parameters_page import ParametersPage
from inspector_app.gui.training_wizard.training_process import TrainingProcess
from inspector_app.jobs.training_spec import TrainingSpec
from inspector_app.gui.training_wizard.wizard import DATA, PARAMETERS

CPU = "CPU only (2 cores) — training will be slower"


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_parts_dataset(tmp_path_factory.mktemp("parts"), size=48, train_good=12, per_defect=2)


def fake_child(tmp_path: Path, body: str) -> list[str]:
    """A command that stands in for ``python -m inspector_app`` (it ignores the train arguments)."""
    script = tmp_path / "child.py"
    script.write_text("import json, os, signal, sys, time\n" + body, encoding="utf-8")
    return [sys.executable, str(script)]


def run_child(qtbot: Any, tmp_path: Path, body: str, cancel: bool = False) -> tuple[Any, TrainingProcess]:
    process = TrainingProcess(tmp_path, fake_child(tmp_path, body))
    lines: list[str] = []
    process.log_line.connect(lines.append)
    with qtbot.waitSignal(process.finished, timeout=20000) as finished:
        if cancel:
            with qtbot.waitSignal(process.progress, timeout=10000):
                process.start(tmp_path / "spec.json")
            process.cancel()
        else:
            process.start(tmp_path / "spec.json")
    return finished.args, process


def test_job_from_spec_and_back(tmp_path: Path) -> None:
    start = TrainingSpec("autoencoder", ["a"], "line1", {"epochs": 3}, extra_good=["x.png"], extra_defect=["d.png"])
    job = TrainingJob.from_spec(start)
    spec = json.loads(job.write_spec(tmp_path / "spec.json").read_text())
    assert spec["family"] == "autoencoder" and spec["name"] == "line1" and spec["config"] == {"epochs": 3}
    assert spec["extra_good"] == ["x.png"] and spec["extra_defect"] == ["d.png"]
    assert spec["activate"] is False and Path(spec["data"][0]).is_absolute()
    assert TrainingSpec.read(tmp_path / "spec.json") == job.to_spec()
    job.model = "line1@v3"
    assert job.ref() == ModelRef("line1", "v3")


def test_data_summary_counts_kinds_and_warnings(parts: Path, tmp_path: Path) -> None:
    summary = summarize([str(parts)], [], 0.2, 0)
    assert summary.counts["train/good"] == 12 and summary.usable
    assert summary.kinds == {"good"}  # MVTec: training uses train/good only
    assert any("at least 16" in w for w in summary.warnings)
    assert summary.val_good == 2 and summary.train_good == 10 and "2 good image(s)" in summary.split_text()
    assert summary.labelled_kinds == {"good", "defect", "mask"}  # test/ holds defects with masks
    c = summary.supervised  # 18 good and 2 of each of 3 defect types, split 60 / 20 / 20 per type
    assert (c.train_good + c.val_good + c.test_good, c.train_defect + c.val_defect + c.test_defect) == (18, 6)
    assert c.test_defect == 3 and c.train_defect == 3 and c.val_defect == 0
    assert "never trained on" in summary.split_text(uses_defects=True)
    # A good-only family calibrates on one image of each type in test/ (as the training job draws them).
    assert (summary.calibration_good, summary.calibration_defect, summary.kept_for_evaluate) == (1, 3, 8)
    assert "1 good and 3 defect image(s) of test/ also calibrate" in summary.split_text()
    assert summary.defect_side(False) is not None and summary.defect_side(True) is not None  # from their masks
    plain = tmp_path / "plain"
    (plain / "good").mkdir(parents=True)
    (plain / "defect").mkdir()
    for i, size in enumerate([(40, 40), (40, 40), (30, 50)]):
        save_image(plain / "good" / f"{i}.png", np.full((*size, 3), 90, np.uint8))
    (plain / "good" / "broken.png").write_bytes(b"not an image")
    save_image(plain / "defect" / "d0.png", np.full((40, 40, 3), 200, np.uint8))
    mixed = summarize([str(plain)], [], 0.2, 0)
    text = " ".join(mixed.warnings)
    assert "sizes vary" in text and "unreadable" in text and "broken.png" in text
    assert mixed.kinds == {"good", "defect"}  # a defect without a mask: no "mask"
    assert summarize([str(tmp_path / "missing")], [], 0.2, 0).error


def test_estimate_scales_with_size_and_names_the_cpu() -> None:
    small = estimate_text("autoencoder", {"image_size": 64, "epochs": 10, "base_filters": 32}, 500)
    assert "per epoch on this CPU" in small and "10 epochs" in small
    assert "to fit" in estimate_text("patch_memory", {"image_size": 224}, 200)


def test_patch_memory_estimate_counts_the_overlapping_tiles() -> None:
    """768 px in 224 px tiles with 25 % overlap: steps of 168 px and one flush with the edge, 5×5 tiles."""
    plain = epoch_seconds("patch_memory", {"image_size": 224}, 100)
    tiled = epoch_seconds("patch_memory", {"image_size": 768, "tile_size": 224, "tile_overlap": 0.25}, 100)
    assert plain is not None and tiled is not None
    assert tiled == pytest.approx(25 * plain)
    assert epoch_seconds("patch_memory", {"image_size": 768, "tile_size": 0}, 100) == pytest.approx(plain * (768 / 224) ** 2)


@pytest.mark.parametrize("family", ["cam_classifier", "unet", "metric"])
def test_parameters_page_estimates_the_families_that_learn_from_defects_or_synthetic_ones(
        qtbot: Any, parts: Path, tmp_path: Path, family: str) -> None:
    wizard = TrainingWizard(ModelStore(tmp_path / "home"), device=CPU,
                            initial=TrainingSpec.from_json({"data": [str(parts)], "family": family}))
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    wizard.next()
    assert wizard.currentId() == PARAMETERS
    text = wizard.parameters_page.estimate.text()
    assert "per epoch on this CPU" in text, text
    assert ("once before the first epoch" in text) == (family == "metric")


def test_crash_reports_signal_and_last_lines(qtbot: Any, tmp_path: Path) -> None:
    body = ("print(json.dumps({'event': 'progress', 'stage': 'train', 'epoch': 1, 'epochs': 5}), flush=True)\n"
            "print('Traceback: something deep failed', file=sys.stderr, flush=True)\n"
            "os.kill(os.getpid(), signal.SIGSEGV)\n")
    (ok, model, reason), _ = run_child(qtbot, tmp_path, body)
    assert not ok and not model
    assert "crashed (SIGSEGV, signal 11)" in reason and "something deep failed" in reason


def test_error_event_and_exit_code(qtbot: Any, tmp_path: Path) -> None:
    body = ("print(json.dumps({'event': 'error', 'message': 'no training images found in /x'}), flush=True)\n"
            "sys.exit(1)\n")
    (ok, _, reason), _ = run_child(qtbot, tmp_path, body)
    assert not ok and reason.startswith("training failed: no training images found in /x")
    (ok, _, reason), _ = run_child(qtbot, tmp_path, "sys.exit(3)\n")
    assert "exited with code 3" in reason


def test_cancel_sends_sigterm_and_reports_cancelled(qtbot: Any, tmp_path: Path) -> None:
    body = ("def stop(*_):\n    print(json.dumps({'event': 'cancelled', 'message': 'stopped'}), flush=True)\n"
            "    sys.exit(130)\n"
            "signal.signal(signal.SIGTERM, stop)\n"
            "print(json.dumps({'event': 'progress', 'stage': 'train', 'epoch': 1, 'epochs': 5}), flush=True)\n"
            "time.sleep(30)\n")
    (ok, _, reason), process = run_child(qtbot, tmp_path, body, cancel=True)
    assert not ok and "cancelled" in reason and not process.running()


def test_device_probe_answers_from_a_child(qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DeviceProbe, "known", None)
    probe = DeviceProbe(code="print('2 GPU(s): Fake A100, Fake A100')")
    with qtbot.waitSignal(probe.answered, timeout=10000) as answered:
        probe.start()
    assert answered.args[0] == "2 GPU(s): Fake A100, Fake A100" and DeviceProbe.known == answered.args[0]


def test_wizard_pages_never_import_tensorflow(parts: Path) -> None:
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM']='offscreen';"
        "from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from inspector_app.core.modelstore import ModelStore;"
        "from inspector_app.gui.training_wizard import TrainingWizard; import tempfile;"
        "from inspector_app.jobs.training_spec import TrainingSpec;"
        f"w = TrainingWizard(ModelStore(tempfile.mkdtemp()), initial=TrainingSpec.from_json({{'data': [{str(parts)!r}]}}), device='cpu');"
        "w.show(); w.next(); w.next(); app.processEvents();"
        "print('page', w.currentId(), 'TF', 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "page 2 TF False" in out.stdout, out.stderr[-2000:]


class MaskFamily:
    kind, title, description = "segmenter", "Fake segmenter", "needs masks"
    needs = frozenset({"good", "defect", "mask"})


class GoodFamily:
    kind, title, description = "good_only", "Fake good-only", "needs good images"
    needs = frozenset({"good"})


def test_family_page_says_whether_the_data_allows_each_family(qtbot: Any, parts: Path, tmp_path: Path) -> None:
    only_good = tmp_path / "only_good"
    (only_good / "good").mkdir(parents=True)
    for i in range(4):
        save_image(only_good / "good" / f"{i}.png", np.full((32, 32, 3), 90 + i, np.uint8))
    job = TrainingJob.from_spec(TrainingSpec.from_json({"data": [str(only_good)]}))
    page = FamilyPage(job, families=[MaskFamily, GoodFamily])
    qtbot.addWidget(page)
    page.initializePage()
    assert "lacks defect, mask" in page.status["segmenter"].text()
    assert "defect/<type>/" in page.status["segmenter"].text() and "masks/<stem>.png" in page.status["segmenter"].text()
    assert "allows" in page.status["good_only"].text()
    # MVTec: the defects (with masks) under test/ are what families that learn from defects use.
    mvtec = FamilyPage(TrainingJob.from_spec(TrainingSpec.from_json({"data": [str(parts)]})), families=[MaskFamily])
    qtbot.addWidget(mvtec)
    mvtec.initializePage()
    assert "allows" in mvtec.status["segmenter"].text()
    blank = FamilyPage(TrainingJob(), families=[GoodFamily])
    qtbot.addWidget(blank)
    blank.initializePage()
    assert "next page" in blank.status["good_only"].text()


def test_parameters_page_defaults_device_and_name_check(qtbot: Any, parts: Path, tmp_path: Path) -> None:
    wizard = TrainingWizard(ModelStore(tmp_path / "home"), initial=TrainingSpec.from_json({"data": [str(parts)]}), device=CPU)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    assert wizard.currentId() == DATA and wizard.data_page.isComplete()
    assert "Retrain from captures" in wizard.data_page.captures_hint.text()  # no disabled option to puzzle over
    wizard.next()
    page = wizard.parameters_page
    assert wizard.currentId() == PARAMETERS
    assert page.editors["image_size"].get() == 128 and page.editors["augment"].get() is True
    assert "CPU only" in page.device.text() and "this will be slower" in page.device.text()
    assert "per epoch on this CPU" in page.estimate.text()
    assert page.name.currentText() == parts.name and page.isComplete()
    page.name.setCurrentText("bad name/")
    assert not page.isComplete() and "invalid model name" in page.problem.text()


def test_train_menu_opens_one_non_modal_wizard(qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DeviceProbe, "known", CPU)
    store = ModelStore(tmp_path / "home")
    for _ in range(2):
        store.write_version("line", {"family": "autoencoder", "config": {}, "calibration": {
            "threshold": 1.0, "score_low": 0.0, "map_low": 0.0, "method": "test"}}, lambda folder: None)
    store.activate(ModelRef("line", "v1"))
    win = MainWindow(store, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat),
                     loader=lambda s, ref: (_ for _ in ()).throw(RuntimeError("no loading here")))
    qtbot.addWidget(win)
    try:
        assert win.train_action.isEnabled()
        win.train_action.trigger()
        first = win.training_wizard
        assert first.isVisible() and not first.isModal()
        win.open_training_wizard()
        assert win.training_wizard is first  # raised, not a second wizard
        store.update_meta(ModelRef("line", "v2"), {"label": "after the new lighting"})
        win._fill_rollback_menu()
        texts = [a.text() for a in win.rollback_menu.actions()]
        assert [t.split("  ·  ")[0] for t in texts] == ["line@v2", "line@v1"]
        assert "“after the new lighting”" in texts[0] and "threshold 1" in texts[1]  # label, date and figures
        assert store.meta(ModelRef("line", "v1"))["created_at"][:10] in texts[1]
        with qtbot.waitSignal(win.worker.model_failed, timeout=10000):
            win.rollback_menu.actions()[0].trigger()
        qtbot.wait(50)  # the window's own slot for the same signal
        assert store.active() == ModelRef("line", "v1")  # a version that failed to load is never made active
        first.close()
    finally:
        win.shutdown()


def test_calibration_page_sets_the_threshold_for_the_chosen_aim(qtbot: Any, tmp_path: Path) -> None:
    """Out-of-fold good scores count; a false-alarm target, catching every defect and best F1 each put the
    line where they should, show the expected rates, and the stored method says which aim set it."""
    store = ModelStore(tmp_path / "home")
    good, oof, defect = [1.0, 2.0, 3.0, 4.0], [float(v) for v in range(5, 101)], [50.0, 60.0, 200.0]
    calibration = {"threshold": 99.0, "score_low": 50.0, "map_low": 0.0, "method": "test",
                   "details": {"objective": "false_alarm_rate", "target_false_alarm_rate": 0.02}}
    ref = store.write_version("line", {"family": "autoencoder", "config": {}, "calibration": calibration,
                                       "validation_scores": {"good": good, "defect": defect,
                                                             "good_out_of_fold": oof}}, lambda folder: None)
    job = TrainingJob()
    job.model = str(ref)
    page = CalibrationPage(job, store)
    qtbot.addWidget(page)
    page.initializePage()
    assert len(page.good) == 100 and page.target.value() == pytest.approx(2.0)
    page.target.setValue(10.0)
    page.apply.click()
    assert page.threshold() == pytest.approx(np.quantile(good + oof, 0.9))
    assert "10 of 100" in page.false_alarms.text() and "2 of 3" in page.misses.text()
    page.objective.setCurrentIndex(page.objective.findData("catch"))
    page.target.setValue(100.0)
    page.apply.click()
    assert page.threshold() == pytest.approx(50.0) and "0 of 3" in page.misses.text()
    assert page.validatePage()
    assert store.meta(ref)["calibration"]["method"].startswith("catch 100 %")
    page.objective.setCurrentIndex(page.objective.findData("best_f1"))
    page.apply.click()
    page.histogram.line.setValue(70.0)  # dragged by hand afterwards
    assert page.validatePage() and store.meta(ref)["calibration"]["method"] == "manual"


def test_calibration_page_weighs_best_f1_to_the_stored_defect_share(qtbot: Any, tmp_path: Path) -> None:
    """Best F1 on the page is the one training stored: weighed to the labelled images' share of defects."""
    store = ModelStore(tmp_path / "home")
    good, defect = [float(v) for v in range(100)], [60.0, 80.0, 95.0, 120.0]
    calibration = {"threshold": 60.0, "score_low": 50.0, "map_low": 0.0, "method": "test",
                   "details": {"objective": "best_f1", "defect_share": 0.5}}
    ref = store.write_version("line", {"family": "autoencoder", "config": {}, "calibration": calibration,
                                       "validation_scores": {"good": good, "defect": defect}}, lambda folder: None)
    job = TrainingJob()
    job.model = str(ref)
    page = CalibrationPage(job, store)
    qtbot.addWidget(page)
    page.initializePage()
    assert page.objective.currentData() == "best_f1"
    page.apply.click()
    weighed = objective_threshold(Objective.BEST_F1, np.array(good), np.array(defect), 0.0, 0.5)
    plain = objective_threshold(Objective.BEST_F1, np.array(good), np.array(defect), 0.0)
    assert weighed is not None and plain is not None and weighed[0] != plain[0]
    assert page.threshold() == pytest.approx(weighed[0])


@pytest.mark.parametrize(("side", "tile"), [(None, 224), (0.1, 0)])
def test_tiling_proposal_weighs_how_wide_the_labelled_defects_are(qtbot: Any, tmp_path: Path, side: float | None,
                                                                   tile: int) -> None:
    job = TrainingJob(family="patch_memory", data=[str(tmp_path)])
    job.data_summary = DataSummary(train_good=10, val_good=2, image_size=(1000, 1000), calibration_defect_side=side)
    page = ParametersPage(job, ModelStore(tmp_path / "home"))
    qtbot.addWidget(page)
    page.initializePage()
    assert page.editors["tile_size"].get() == tile
    assert ("shrunk, not tiled" in page.size_note.text()) == (side is not None)


def test_tiling_proposal_follows_the_data_when_it_changes(qtbot: Any, tmp_path: Path) -> None:
    job = TrainingJob(family="patch_memory", data=[str(tmp_path)])
    job.data_summary = DataSummary(train_good=10, val_good=2, image_size=(160, 160))
    page = ParametersPage(job, ModelStore(tmp_path / "home"))
    qtbot.addWidget(page)
    page.initializePage()
    assert (page.editors["image_size"].get(), page.editors["tile_size"].get()) == (224, 0)
    assert page.size_note.text() == ""
    page.validatePage()  # Next: the job now carries these settings
    job.data_summary = DataSummary(train_good=10, val_good=2, image_size=(1000, 1000))  # back, other folders
    page.initializePage()
    assert (page.editors["image_size"].get(), page.editors["tile_size"].get()) == (992, 224)
    assert "1000×1000" in page.size_note.text() and "224 px tiles" in page.size_note.text()
    page.editors["image_size"].set(800)  # chosen by hand: a later proposal leaves it alone
    page.validatePage()
    job.data_summary = DataSummary(train_good=10, val_good=2, image_size=(120, 90))
    page.initializePage()
    assert (page.editors["image_size"].get(), page.editors["tile_size"].get()) == (800, 0)
    assert page.size_note.text() == ""


def test_estimate_names_the_calibration_models() -> None:
    config = {"image_size": 128, "epochs": 10, "base_filters": 32}
    assert "calibration models" not in estimate_text("autoencoder", config, 500)
    assert "more for 2 calibration models" in estimate_text("autoencoder", {**config, "calibration_folds": 2}, 500)
