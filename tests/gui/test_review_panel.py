"""The review panel over a real capture store: keyboard decisions, counts, restart, exports, the window's keys."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from inspector_app.core.calibration import MapKind
from inspector_app.core.captures import CaptureStore
from inspector_app.core.demo_parts import render_part
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import Frame
from inspector_app.gui.inspection.capture_recorder import CaptureRecorder
from inspector_app.gui.inference_worker import InspectionResult
from inspector_app.gui.main_window import MainWindow
from inspector_app.gui.review.panel import ReviewPanel
from inspector_app.gui.inspection.source_panel import SourceSpec
from helpers import BrightFailsModel

COUNT = 10


def fill(captures: CaptureStore, count: int = COUNT, version: str = "v1") -> list[int]:
    """``count`` flagged parts (a hot spot in each map), one second apart, oldest first; returns their ids."""
    ids = []
    for i in range(count):
        image = render_part(i, 48, defect="stain" if i % 3 == 0 else None)[0]
        heat = np.zeros((48, 48), np.float32)
        heat[10 + i : 20 + i, 12:22] = 1.5 + i / 10
        record = captures.record(image, source=f"line/part_{i:02d}.png", frame_index=i, model_name="widget",
                                 model_version=version, score=0.1 + i / 100, normalised_score=1.1 + i / 10,
                                 threshold=0.1, failed=True, anomaly_map=heat, captured_at=1_700_000_000.0 + i)
        ids.append(record.id)
    return ids


@pytest.fixture
def panel(qtbot: Any, tmp_path: Path) -> Any:
    made: list[tuple[ReviewPanel, CaptureStore]] = []

    def build() -> tuple[ReviewPanel, CaptureStore]:
        captures = CaptureStore(tmp_path / "data", pass_sample_rate=0.0)
        widget = ReviewPanel(captures, refresh_ms=100)
        qtbot.addWidget(widget)
        widget.resize(1000, 700)
        widget.show()
        qtbot.waitExposed(widget)
        widget.grid.setFocus()
        made.append((widget, captures))
        return widget, captures

    yield build
    for widget, captures in made:
        widget.shutdown()
        captures.close()


def key(qtbot: Any, panel: ReviewPanel, name: str) -> None:
    qtbot.keyClick(QApplication.focusWidget() or panel.grid, getattr(Qt.Key, f"Key_{name}"))


def test_keyboard_review_updates_the_database_and_the_counts(panel: Any, qtbot: Any) -> None:
    widget, captures = panel()
    ids = fill(captures)
    widget.refresh(force=True)
    assert widget.counts_label.text() == "10 left to review · D 0 · F 0 · G 0"
    assert widget.grid.ids() == ids[::-1]  # newest first
    assert widget.current_record().id == ids[-1]
    key(qtbot, widget, "D")  # newest → defect, the next one comes up
    key(qtbot, widget, "F")
    key(qtbot, widget, "G")
    assert [captures.get(i).decision for i in ids[-3:]] == ["good", "false_alarm", "defect"]
    assert widget.counts_label.text() == "7 left to review · D 1 · F 1 · G 1"
    assert widget.current_record().id == ids[-4]
    key(qtbot, widget, "U")  # the "good" is taken back and shown again
    assert captures.get(ids[-3]).decision == "unreviewed"
    assert widget.current_record().id == ids[-3]
    assert widget.counts_label.text() == "8 left to review · D 1 · F 1 · G 0"
    key(qtbot, widget, "Right")  # arrows move without deciding
    key(qtbot, widget, "Right")
    assert widget.current_record().id == ids[-5]
    key(qtbot, widget, "Left")
    assert widget.current_record().id == ids[-4]
    key(qtbot, widget, "F")
    assert captures.get(ids[-4]).decision == "false_alarm"
    assert widget.counts_label.text() == "7 left to review · D 1 · F 2 · G 0"
    qtbot.waitUntil(lambda: widget.view.scene().items()[0].pixmap().width() == 48, timeout=3000)
    widget.view.setFocus()  # on the large view the arrows move through the queue too
    assert widget.current_record().id == ids[-5]  # F moved on to the next part
    qtbot.keyClick(widget.view, Qt.Key.Key_Down)
    assert widget.current_record().id == ids[-6]
    qtbot.keyClick(widget.view, Qt.Key.Key_D)
    assert captures.get(ids[-6]).decision == "defect"


def test_decisions_survive_a_restart(panel: Any, qtbot: Any) -> None:
    widget, captures = panel()
    ids = fill(captures, 5)
    widget.refresh(force=True)
    for name in ("D", "F", "D"):
        key(qtbot, widget, name)
    widget.shutdown()
    widget.close()
    captures.close()
    again, reopened = panel()
    assert [reopened.get(i).decision for i in ids] == ["unreviewed", "unreviewed", "defect", "false_alarm", "defect"]
    assert again.counts_label.text() == "2 left to review · D 2 · F 1 · G 0"
    assert again.grid.ids() == ids[1::-1]  # only the undecided remain in the queue


def test_filters_order_and_new_captures_arrive(panel: Any, qtbot: Any) -> None:
    widget, captures = panel()
    ids = fill(captures, 4)
    widget.refresh(force=True)
    widget.filters.order_combo.setCurrentText("Highest score first")
    assert widget.grid.ids() == ids[::-1]
    widget.filters.order_combo.setCurrentText("Oldest first")
    assert widget.grid.ids() == ids
    newer = fill(captures, 2, version="v2")
    qtbot.waitUntil(lambda: len(widget.grid.ids()) == 6, timeout=3000)  # the refresh timer picked them up
    widget.filters.model_combo.setCurrentText("widget@v2")
    assert widget.grid.ids() == newer
    assert widget.counts_label.text().startswith("2 left to review")
    widget.filters.show_combo.setCurrentText("Everything")
    widget.filters.model_combo.setCurrentText("All model versions")
    widget.filters.period_combo.setCurrentText("Today")  # the generated captures are from 2023
    assert widget.grid.ids() == []
    assert "Nothing to show" in widget.info.text()


def test_export_csv_and_json_with_summary(panel: Any, tmp_path: Path) -> None:
    widget, captures = panel()
    ids = fill(captures, 4)
    captures.decide(ids[0], "defect", note="=HYPERLINK(\"x\")")
    captures.decide(ids[1], "false_alarm")
    answers = iter([str(tmp_path / "listed.csv"), str(tmp_path / "out.csv"), str(tmp_path / "out.json")])
    widget.summary.ask_path = lambda *_: next(answers)
    widget.summary.export("Export CSV…")  # "To review" lists the 2 undecided captures: the export writes those
    with (tmp_path / "listed.csv").open(encoding="utf-8", newline="") as handle:
        assert sorted(int(row["id"]) for row in csv.DictReader(handle)) == ids[2:]
    widget.filters.show_combo.setCurrentText("Everything")
    widget.summary.refresh()
    assert widget.summary.table.item(0, 0).text() == "widget@v1"
    assert widget.summary.table.item(0, 4).text() == "50.0 %"  # defect rate of the reviewed flagged parts
    assert widget.summary.export("Export CSV…") == tmp_path / "out.csv"
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and rows[0]["note"].startswith("'=")
    assert widget.summary.export("Export JSON…") == tmp_path / "out.json"
    summary = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["summary"][0]
    assert (summary["reviewed"], summary["false_alarm_rate"]) == (2, 0.5)
    assert "exported 4 row(s)" in widget.message.text()


def _result(frame: Frame, failed: bool) -> InspectionResult:
    return InspectionResult(frame=frame, generation=1, model="widget@v1", model_name="widget", model_version="v1",
                            score=0.9 if failed else 0.1, normalised_score=2.0 if failed else 0.2, threshold=0.5,
                            failed=failed, anomaly_map=np.zeros((48, 48), np.float32), map_kind=MapKind.ANOMALY,
                            latency_ms=1.0, finished_at=0.0)


def test_recorder_keeps_fails_and_manual_good_captures(tmp_path: Path) -> None:
    with CaptureStore(tmp_path, pass_sample_rate=0.0) as captures:
        recorder = CaptureRecorder(captures)
        frame = Frame(render_part(1, 48)[0], "folder:/line", 3, 0.0, "/line/p3.png")
        assert recorder.record_result(_result(frame, failed=False)) is None  # PASS, not sampled
        stored = recorder.record_result(_result(frame, failed=True))
        assert stored is not None and stored.source == "/line/p3.png" and stored.map_path is not None
        good = recorder.capture_good(frame, _result(frame, failed=False)).result(timeout=10)
        recorder.shutdown()
        assert (good.decision, good.verdict, good.model_version) == ("good", "GOOD", "v1")


@pytest.fixture
def window(qtbot: Any, tmp_path: Path) -> Any:
    captures = CaptureStore(tmp_path / "data", pass_sample_rate=0.0)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(ModelStore(tmp_path / "data"), settings, captures=captures)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win, captures
    win.shutdown()
    captures.close()


def test_window_review_dock_claims_f_and_g_while_focused(window: Any, qtbot: Any) -> None:
    win, captures = window
    ids = fill(captures, 3)
    fired: list[str] = []
    win.fullscreen_action.triggered.connect(lambda: fired.append("F"))
    win.capture_action.triggered.connect(lambda: fired.append("G"))
    assert win.review_action.isEnabled()
    win.open_review()
    qtbot.waitUntil(lambda: win.review_panel.grid.ids() == ids[::-1], timeout=3000)
    win.activateWindow()
    win.review_panel.grid.setFocus()
    qtbot.keyClick(win.review_panel.grid, Qt.Key.Key_F)
    qtbot.keyClick(win.review_panel.grid, Qt.Key.Key_G)
    assert fired == []  # the window's full screen and capture did not fire
    assert [captures.get(i).decision for i in ids[::-1]] == ["false_alarm", "good", "unreviewed"]
    win.view.setFocus()
    qtbot.keyClick(win.view, Qt.Key.Key_G)  # elsewhere G is still "capture as good"
    assert fired == ["G"]


def test_window_stores_capture_good_requests(window: Any, qtbot: Any) -> None:
    win, captures = window
    frame = Frame(render_part(2, 48)[0], "camera:0", 7, 0.0)
    win.capture_good_requested.emit(frame)
    qtbot.waitUntil(lambda: captures.counts()["good"] == 1, timeout=5000)
    assert captures.query()[0].source == "camera:0"


def test_flagged_frames_are_recorded_off_the_gui_thread_and_listed(qtbot: Any, tmp_path: Path, qtlog: Any) -> None:
    folder = tmp_path / "line"
    folder.mkdir()
    for i, value in enumerate([20, 200, 30, 220, 240]):
        save_image(folder / f"img_{i}.png", np.full((24, 32, 3), value, np.uint8))
    captures = CaptureStore(tmp_path / "data", pass_sample_rate=0.0)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(ModelStore(tmp_path / "data"), settings, loader=lambda _s, ref: BrightFailsModel(ref),
                     captures=captures)
    qtbot.addWidget(win)
    win.show()
    win.open_review()
    with qtbot.waitSignal(win.worker.model_loaded, timeout=5000):
        win.choose_model(ModelRef("widget", "v1"))
    win.open_source(SourceSpec("folder", str(folder)))
    qtbot.waitUntil(lambda: len(win.review_panel.grid.ids()) == 3, timeout=5000)
    assert [Path(r.source).name for r in captures.query(order="oldest")] == ["img_1.png", "img_3.png", "img_4.png"]
    assert win.review_panel.counts_label.text() == "3 left to review · D 0 · F 0 · G 0"
    win.shutdown()
    captures.close()
    assert not [r for r in qtlog.records if "thread" in r.message.lower()]
