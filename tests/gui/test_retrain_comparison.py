"""Retrain from captures in the GUI: the wizard's starting point and the old/new comparison box, with fakes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from inspector_app.core.captures import CaptureStore
from inspector_app.core.demo_parts import render_part
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.detectors.loaded_model import Inspection
from inspector_app.gui.main_window import MainWindow
from inspector_app.gui.review.retrain_comparison import RetrainComparison
from inspector_app.jobs import retrain
from inspector_app.jobs.retrain import RetrainError, retrain_spec_from_captures
from inspector_app.jobs.training_spec import TrainingSpec

SPEC = {"family": "autoencoder", "data": ["/datasets/widget"], "config": {"image_size": 32}, "val_fraction": 0.25,
        "seed": 3}


class BrightnessModel:
    """Fails images brighter than ``limit`` (mean grey level)."""

    def __init__(self, ref: ModelRef, limit: float) -> None:
        self.ref = ref
        self.limit = limit

    def inspect(self, images: np.ndarray) -> Inspection:
        scores = images.reshape(len(images), -1).mean(axis=1) / self.limit
        return Inspection(scores, scores, np.zeros(images.shape[:3], np.float32), scores >= 1.0)


def loader(store: ModelStore, ref: ModelRef) -> BrightnessModel:
    return BrightnessModel(ref, 100.0 if ref.version == "v1" else 140.0)


def make_versions(root: Path) -> ModelStore:
    store = ModelStore(root)
    for _ in range(2):
        meta = {"family": "autoencoder", "config": {}, "calibration": {"threshold": 1.0}, "training_spec": SPEC}
        store.write_version("widget", meta, lambda folder: None)
    store.activate(ModelRef("widget", "v1"))
    return store


def fill(captures: CaptureStore) -> dict[str, list[int]]:
    """Bright parts: three marked false alarm or good, one defect, one left unreviewed."""
    ids: dict[str, list[int]] = {"false_alarm": [], "good": [], "defect": [], "unreviewed": []}
    plan = [("false_alarm", "bright"), ("false_alarm", "bright"), ("good", "bright"), ("defect", "bright"),
            ("unreviewed", "bright")]
    for i, (decision, variant) in enumerate(plan):
        image = render_part(i, 48, variant=variant)[0]
        record = captures.record(image, source="line", frame_index=i, model_name="widget", model_version="v1",
                                 score=1.0, normalised_score=1.0, threshold=1.0, failed=True)
        if decision != "unreviewed":
            captures.decide(record.id, decision)
        ids[decision].append(record.id)
    return ids


def test_retrain_spec_takes_the_versions_data_and_the_good_captures(tmp_path: Path) -> None:
    store = make_versions(tmp_path)
    with CaptureStore(tmp_path) as captures:
        ids = fill(captures)
        initial = retrain_spec_from_captures(store, captures)
        wanted = [str(captures.get(i).image_path) for i in sorted(ids["false_alarm"] + ids["good"])]
    assert initial.extra_good == wanted
    assert {k: getattr(initial, k) for k in SPEC} == SPEC
    assert initial.name == "widget" and initial.extra_defect == []  # the autoencoder learns from good only


def test_retrain_spec_needs_a_version(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as captures, pytest.raises(RetrainError, match="no active model"):
        retrain_spec_from_captures(ModelStore(tmp_path), captures)


def test_comparison_box_counts_false_alarms_and_misses(qtbot: Any, tmp_path: Path) -> None:
    store = make_versions(tmp_path)
    with CaptureStore(tmp_path) as captures:
        fill(captures)
    box = RetrainComparison(store, lambda: ModelRef("widget", "v2"), loader=loader)
    qtbot.addWidget(box)
    with qtbot.waitSignal(box.compared, timeout=10000) as blocker:
        box.show()
    result = blocker.args[0]
    assert (result["good"], result["defects"]) == (3, 1)
    assert result["old"] == {"model": "widget@v1", "false_alarms": 3, "misses": 0}
    assert result["new"] == {"model": "widget@v2", "false_alarms": 0, "misses": 1}  # v2 passes every bright part
    assert box.cells["old", "false_alarms"].text() == "3 of 3 good"
    assert box.cells["new", "misses"].text() == "1 of 1 defects"
    assert box.start() is False  # the same pair is not scored twice
    box.shutdown()


def test_comparison_box_without_reviewed_captures_loads_nothing(qtbot: Any, tmp_path: Path) -> None:
    store = make_versions(tmp_path)

    def refuse(*_: Any) -> None:
        raise AssertionError("no model should load")

    box = RetrainComparison(store, lambda: ModelRef("widget", "v2"), loader=refuse)
    qtbot.addWidget(box)
    box.show()
    assert "No reviewed captures" in box.status.text()
    box.shutdown()


def test_retrain_action_opens_the_wizard_prefilled(qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    store = make_versions(tmp_path)
    opened: list[dict] = []
    with CaptureStore(tmp_path) as captures:
        ids = fill(captures)
        win = MainWindow(store, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), captures=captures)
        qtbot.addWidget(win)
        monkeypatch.setattr(win, "open_training_wizard", opened.append)
        win.retrain_action.trigger()
        win.shutdown()
    assert len(opened) == 1 and len(opened[0].extra_good) == len(ids["false_alarm"] + ids["good"])
    assert opened[0].data == SPEC["data"]


def test_retrain_spec_keeps_the_confirmed_defects_for_a_family_that_learns_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Supervised:
        needs = frozenset({"good", "defect"})

    monkeypatch.setattr(retrain, "detector_class", lambda family: Supervised)
    store = make_versions(tmp_path)
    with CaptureStore(tmp_path) as captures:
        ids = fill(captures)
        spec = retrain_spec_from_captures(store, captures)
        confirmed = [str(captures.get(i).image_path) for i in ids["defect"]]
    assert confirmed and spec.extra_defect == confirmed
    assert TrainingSpec.from_json(spec.to_json()).extra_defect == confirmed  # survives the wizard's spec file
