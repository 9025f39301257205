"""Page 5: where to put the threshold — validation scores, the rates it gives, and the images it decides.

The new version is already written; this page reads its held-out scores from ``meta.json`` and, when the
user moved the line, stores the new threshold there (never in the network). The images nearest the line are
the ones a small move flips from PASS to FAIL, so the user sees what the choice means on real parts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget,
    QWizardPage,
)

from inspector_app.core.calibration import Calibration, Objective, objective_threshold
from inspector_app.core.datasets import open_dataset
from inspector_app.core.errors import ImageLoadError, InspectorError
from inspector_app.core.images import load_image, thumbnail
from inspector_app.core.modelstore import ModelStore
from inspector_app.core.labels import DEFECT
from inspector_app.core.operating_point import false_alarms_at, misses_at
from inspector_app.gui.qimage import to_pixmap
from inspector_app.gui.training_wizard.job_model import TrainingJob
from inspector_app.gui.training_wizard.score_histogram import ScoreHistogram, shared_bins

NEAREST = 6
THUMB = 96
#: The objectives offered, with the label and the range (in %) of their target figure.
OBJECTIVES = {
    Objective.FALSE_ALARM_RATE: ("False-alarm rate at most", (0.01, 50.0)),
    Objective.CATCH: ("Catch at least (of defects)", (1.0, 100.0)),
    Objective.BEST_F1: ("Best F1 (balance misses and false alarms)", None),
}


class CalibrationPage(QWizardPage):
    """Histogram with a draggable threshold, false-alarm and miss rates, and the images nearest the line."""

    def __init__(self, job: TrainingJob, store: ModelStore) -> None:
        super().__init__()
        self.job = job
        self.store = store
        self.setTitle("5 · Calibration")
        self.setSubTitle("Choose what the threshold is for, or drag the line: parts scoring at or above it fail. "
                         "Scores are from images the model did not learn from.")
        self.histogram = ScoreHistogram()
        self.spin = QDoubleSpinBox()
        self.spin.setKeyboardTracking(False)
        self.reset = QPushButton("Back to the calibrated threshold")
        self.objective = QComboBox()
        for objective, (label, _) in OBJECTIVES.items():
            self.objective.addItem(label, objective.value)
        self.target = QDoubleSpinBox()
        self.target.setSuffix(" %")
        self.target.setDecimals(2)
        self.apply = QPushButton("Set the threshold for this")
        self.false_alarms = QLabel()
        self.misses = QLabel()
        self.method = QLabel()
        self.method.setWordWrap(True)
        self.method.setStyleSheet("color: #57606a;")
        for label in (self.false_alarms, self.misses):
            label.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.misses.setWordWrap(True)
        self.misses.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # the command can be copied
        self._no_defects_text = "unknown — no defect images were held out"
        self.nearest = QHBoxLayout()
        self.good = np.zeros(0)
        self.defect = np.zeros(0)
        self.files: list[tuple[float, str, str]] = []
        self.calibration: Calibration | None = None
        self._pixmaps: dict[str, QPixmap | None] = {}
        self._nearest_timer = QTimer(self)
        self._nearest_timer.setSingleShot(True)
        self._nearest_timer.setInterval(150)
        self._nearest_timer.timeout.connect(self._fill_nearest)
        self._build_layout()
        self.histogram.threshold_changed.connect(self._on_drag)
        self.spin.valueChanged.connect(self._on_spin)
        self.reset.clicked.connect(self._reset)
        self.objective.currentIndexChanged.connect(self._on_objective)
        self.apply.clicked.connect(self._apply_objective)
        self._method = ""

    def _build_layout(self) -> None:
        side = QFormLayout()
        side.addRow("Aim", self.objective)
        side.addRow("Target", self.target)
        side.addRow("", self.apply)
        side.addRow("Threshold", self.spin)
        side.addRow("", self.reset)
        side.addRow("False alarms", self.false_alarms)
        side.addRow("Missed defects", self.misses)
        side.addRow(self.method)
        side_box = QWidget()
        side_box.setLayout(side)
        side_box.setMinimumWidth(330)
        top = QHBoxLayout()
        top.addWidget(self.histogram, 1)
        top.addWidget(side_box)
        near_box = QGroupBox("Nearest the threshold (a small move of the line flips these)")
        near_box.setLayout(self.nearest)
        near_box.setMinimumHeight(THUMB + 96)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(near_box)

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        ref = self.job.ref()
        if ref is None:
            return
        meta = self.store.meta(ref)
        scores = meta.get("validation_scores", {})
        # Out-of-fold scores of the training images count too: calibration rested on all of them.
        self.good = np.asarray(scores.get("good", []) + scores.get("good_out_of_fold", []), np.float64)
        self.defect = np.asarray(scores.get("defect", []), np.float64)
        self.files = _scored_files(scores)
        self.calibration = Calibration.from_json(meta["calibration"])
        self._no_defects_text = no_defects_text(self.job.data, str(ref))
        threshold = self.calibration.threshold
        edges = shared_bins(self.good, self.defect, threshold)
        span = float(edges[-1] - edges[0])
        self.spin.blockSignals(True)
        self.spin.setDecimals(max(3, 3 - math.floor(math.log10(span))) if span > 0 else 6)
        self.spin.setRange(float(edges[0]) - span, float(edges[-1]) + span)
        self.spin.setSingleStep(span / 200 if span > 0 else 0.001)
        self.spin.setValue(threshold)
        self.spin.blockSignals(False)
        self.method.setText(f"Calibrated threshold {threshold:.4g}: {self.calibration.method}.")
        self._method = ""
        self._offer_objectives()
        self.histogram.set_scores(self.good, self.defect, threshold)
        self._update(threshold)

    def threshold(self) -> float:
        return self.histogram.threshold()

    def set_threshold(self, value: float) -> None:
        """Move the line as a user would (tests and keyboard use this too)."""
        self.histogram.set_threshold(value)
        self._on_line(value)

    def _on_drag(self, value: float) -> None:
        self._method = ""  # placed by hand, no longer by an objective
        self._on_line(value)

    def _on_line(self, value: float) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(False)
        self._update(value)

    def _on_spin(self, value: float) -> None:
        self._method = ""
        self.histogram.set_threshold(value)
        self._update(value)

    def _reset(self) -> None:
        if self.calibration is not None:
            self.set_threshold(self.calibration.threshold)
            self._method = ""

    def _offer_objectives(self) -> None:
        """Best F1 and catching defects need validation defects; start on the objective calibration used."""
        has_defects = len(self.defect) > 0
        model = self.objective.model()
        for row in range(self.objective.count()):
            needs_defects = self.objective.itemData(row) != Objective.FALSE_ALARM_RATE.value
            model.item(row).setEnabled(has_defects or not needs_defects)
        details = self.calibration.details if self.calibration else {}
        used = details.get("objective", Objective.FALSE_ALARM_RATE.value)
        self.objective.setCurrentIndex(max(self.objective.findData(used), 0))
        self._on_objective()
        if used == Objective.FALSE_ALARM_RATE.value and "target_false_alarm_rate" in details:
            self.target.setValue(100 * float(details["target_false_alarm_rate"]))
        if used == Objective.CATCH.value and "catch_share" in details:
            self.target.setValue(100 * float(details["catch_share"]))

    def _on_objective(self) -> None:
        objective = Objective(self.objective.currentData())
        span = OBJECTIVES[objective][1]
        self.target.setEnabled(span is not None)
        if span is not None:
            self.target.setRange(*span)
            self.target.setValue(1.0 if objective == Objective.FALSE_ALARM_RATE else 95.0)

    def _apply_objective(self) -> None:
        """Put the line where the chosen objective wants it, on the scores shown."""
        details = self.calibration.details if self.calibration else {}
        found = objective_threshold(Objective(self.objective.currentData()), self.good, self.defect,
                                    self.target.value() / 100, details.get("defect_share"),
                                    self.calibration.score_low if self.calibration else None)
        if found is not None:
            value, self._method, _ = found
            self.set_threshold(value)

    def _update(self, threshold: float) -> None:
        self.false_alarms.setText(f"expected {false_alarms_at(self.good, threshold).text()}")
        if len(self.defect):
            self.misses.setText(f"expected {misses_at(self.defect, threshold).text()}")
        else:
            self.misses.setText(self._no_defects_text)
        self._nearest_timer.start()

    def _fill_nearest(self) -> None:
        while self.nearest.count():
            item = self.nearest.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        threshold = self.threshold()
        if not self.files:
            self.nearest.addWidget(QLabel("The image files of this version's validation scores were not recorded."))
        chosen = sorted(self.files, key=lambda f: abs(f[0] - threshold))[:NEAREST]
        for score, label, path in sorted(chosen, key=lambda f: f[0]):
            self.nearest.addWidget(self._near_widget(score, label, path, threshold))
        self.nearest.addStretch(1)

    def _near_widget(self, score: float, label: str, path: str, threshold: float) -> QWidget:
        failed = score >= threshold
        right = failed == (label == "defect")
        box = QWidget()
        box.setMinimumHeight(THUMB + 56)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(4, 4, 4, 4)
        picture = QLabel()
        picture.setFixedSize(THUMB, THUMB)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        picture.setStyleSheet(f"border: 3px solid {'#1a7f37' if right else '#cf222e'};")
        pixmap = self._pixmap(path)
        if pixmap is not None:
            picture.setPixmap(pixmap)
        else:
            picture.setText("unreadable")
        caption = QLabel(f"{label} · {score:.4g}\n→ {'FAIL' if failed else 'PASS'}"
                         + ("" if right else (" (false alarm)" if failed else " (missed)")))
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(picture)
        layout.addWidget(caption)
        box.setToolTip(path)
        return box

    def _pixmap(self, path: str) -> QPixmap | None:
        if path not in self._pixmaps:
            try:
                self._pixmaps[path] = to_pixmap(thumbnail(load_image(path), THUMB - 6))
            except ImageLoadError:
                self._pixmaps[path] = None
        return self._pixmaps[path]

    def validatePage(self) -> bool:  # noqa: N802 - Qt API
        ref = self.job.ref()
        if ref is None or self.calibration is None:
            return False
        chosen = self.threshold()
        if not math.isclose(chosen, self.calibration.threshold, rel_tol=1e-9, abs_tol=1e-12):
            moved = self.calibration.with_threshold(chosen, self._method or "manual")
            self.store.update_meta(ref, {"calibration": moved.to_json()})
            self.calibration = moved
        return True


def no_defects_text(folders: list[str], ref: str) -> str:
    """Why misses are unknown, and where defect images wait when the dataset keeps them for evaluation (an
    MVTec test/ split): this family learns from good images only and never scores those while training."""
    kept, first = 0, ""
    for folder in folders:
        try:
            defects = [s for s in open_dataset(folder).evaluation_samples() if s.label == DEFECT]
        except InspectorError:
            continue
        if defects and not first:
            first = folder
        kept += len(defects)
    if not kept:
        return "unknown — the data has no defect images"
    return (f"unknown here — no defect image was held out, though the data holds {kept} that training did not "
            f"score. To measure misses: inspector-app evaluate --model {ref} --data {first}")


def _scored_files(scores: dict[str, Any]) -> list[tuple[float, str, str]]:
    """(score, 'good'/'defect', path) for every validation image whose file was recorded."""
    found: list[tuple[float, str, str]] = []
    for label in ("good", "defect"):
        values, paths = scores.get(label, []), scores.get(f"{label}_files", [])
        if len(paths) == len(values):
            found += [(float(v), label, str(Path(p))) for v, p in zip(values, paths)]
    return found
