"""Page 6: name and describe the new version, and switch the running window to it (or discard it).

The version folder keeps its number (vN); the label and notes typed here go into its ``meta.json``. Activation
records the version as active and asks the running inspection worker to load it — no restart. Earlier
versions stay in the store, so the Model menu can roll back to any of them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QVBoxLayout, QWizardPage,
)

from inspector_app.core.modelstore import ModelStore
from inspector_app.detectors.base import DEFECT
from inspector_app.detectors.registry import detector_class
from inspector_app.gui.review.retrain_comparison import RetrainComparison
from inspector_app.gui.training_wizard.job_model import TrainingJob


def version_summary(meta: dict[str, Any], ref: str, active: str | None) -> str:
    """A few lines about the new version (and what is active now) for the Finish page."""
    data = meta.get("training_data", {})
    fit = meta.get("fit", {})
    calibration = meta.get("calibration", {})
    scores = meta.get("validation_scores", {})
    try:
        family = detector_class(str(meta.get("family")))
        uses_defects = DEFECT in family.needs
        has_epochs = "epochs" in family.default_config()  # patch memory fits in one pass: no epochs to count
    except ValueError:
        uses_defects = bool(data.get("train_defect"))
        has_epochs = "epochs" in meta.get("config", {})
    lines = [
        f"<b>{ref}</b> — {meta.get('title', meta.get('family', '?'))}",
        f"trained on {data.get('train_good', '?')} good image(s)"
        + (f" and {data['train_defect']} defect image(s)" if uses_defects and data.get("train_defect") else "")
        + (f", {fit.get('epochs_run', 0)} epoch(s)" if has_epochs else "")
        + f" in {meta.get('train_seconds', fit.get('seconds', 0)):.0f} s",
        f"threshold {calibration.get('threshold', float('nan')):.4g} ({calibration.get('method', '')})",
        f"validated on {len(scores.get('good', []))} good"
        + (f" and {len(scores['defect'])} defect" if scores.get("defect") else "") + " held-out image(s)",
        f"currently active: {active or 'nothing yet'}",
    ]
    return "<br>".join(lines)


class FinishPage(QWizardPage):
    """Label, notes, "activate now", and a way to throw the version away."""

    #: The user asked to delete the new version and close the wizard.
    discard_requested = Signal()

    def __init__(self, job: TrainingJob, store: ModelStore) -> None:
        super().__init__()
        self.job = job
        self.store = store
        self.setTitle("6 · Finish")
        self.setSubTitle("Describe the new version and choose whether the inspection switches to it now.")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.label = QLineEdit(job.label)
        self.label.setPlaceholderText("e.g. “after the new lighting”")
        self.notes = QPlainTextEdit(job.notes)
        self.notes.setPlaceholderText("What changed, why it was retrained, who checked it…")
        self.notes.setMaximumHeight(130)
        self.activate = QCheckBox("Activate now — the inspection window switches to this version without a restart")
        self.activate.setChecked(job.activate)
        self.discard = QPushButton("Discard this version")
        self.discard.setToolTip("Delete the new version; the active model stays as it is")
        self.discard.clicked.connect(self.discard_requested.emit)
        hint = QLabel("Earlier versions stay available: Model ▸ Roll back to version.")
        hint.setStyleSheet("color: #57606a;")
        form = QFormLayout()
        form.addRow("Label", self.label)
        form.addRow("Notes", self.notes)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addWidget(self.activate)
        layout.addWidget(hint)
        layout.addSpacing(16)
        row = QHBoxLayout()
        row.addWidget(QLabel("Not good enough?"))
        row.addWidget(self.discard)
        row.addStretch(1)
        layout.addLayout(row)
        self.comparison = RetrainComparison(store, job.ref)  # old vs new on the reviewed captures, before activating
        self.comparison.compared.connect(self._on_compared)
        self.worse = QLabel()
        self.worse.setObjectName("worseWarning")
        self.worse.setWordWrap(True)
        self.worse.setStyleSheet("color: #cf222e; font-weight: bold;")
        self.worse.setVisible(False)
        layout.addWidget(self.worse)
        layout.addWidget(self.comparison)
        layout.addStretch(1)
        self._activate_touched = False
        self.activate.clicked.connect(self._on_activate_clicked)

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        ref = self.job.ref()
        if ref is not None:
            active = self.store.active()
            self.summary.setText(version_summary(self.store.meta(ref), str(ref), str(active) if active else None))
        if self.comparison.start() and not self._activate_touched:
            # Not ticked while the comparison runs: a quick Finish must not put a worse version live.
            self.activate.setChecked(False)
            self.worse.setText("Activation waits for the comparison below.")
            self.worse.setStyleSheet("color: #57606a;")
            self.worse.setVisible(True)

    def _on_activate_clicked(self) -> None:
        self._activate_touched = True  # the operator's choice wins over the comparison's default

    def _on_compared(self, outcome: dict) -> None:
        """Untick activation and say why when the new version misses more defects, or as many with more
        false alarms, on the reviewed captures; otherwise restore the default."""
        old, new = outcome["old"], outcome["new"]
        worse = new["misses"] > old["misses"] or (new["misses"] == old["misses"]
                                                 and new["false_alarms"] > old["false_alarms"])
        if worse:
            self.worse.setText(
                f"The new version looks worse on the reviewed parts: it misses {new['misses']} of "
                f"{outcome['defects']} defects (now: {old['misses']}) and raises {new['false_alarms']} false "
                f"alarm(s) on {outcome['good']} good parts (now: {old['false_alarms']}). It is not activated "
                "unless you tick the box.")
            self.worse.setStyleSheet("color: #cf222e; font-weight: bold;")
        self.worse.setVisible(worse)
        if not self._activate_touched:
            self.activate.setChecked(not worse and self.job.activate)

    def validatePage(self) -> bool:  # noqa: N802 - Qt API
        ref = self.job.ref()
        if ref is None:
            return False
        self.job.label = self.label.text().strip()
        self.job.notes = self.notes.toPlainText().strip()
        self.job.activate = self.activate.isChecked()
        self.store.update_meta(ref, {"notes": self.job.notes, "label": self.job.label})
        if self.job.activate:
            self.store.activate(ref)
        return True
