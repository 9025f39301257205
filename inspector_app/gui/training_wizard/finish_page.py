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
        uses_defects = DEFECT in detector_class(str(meta.get("family"))).needs
    except ValueError:
        uses_defects = bool(data.get("train_defect"))
    lines = [
        f"<b>{ref}</b> — {meta.get('title', meta.get('family', '?'))}",
        f"trained on {data.get('train_good', '?')} good image(s)"
        + (f" and {data['train_defect']} defect image(s)" if uses_defects and data.get("train_defect") else "")
        + f", {fit.get('epochs_run', 0)} epoch(s) in {meta.get('train_seconds', fit.get('seconds', 0)):.0f} s",
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
        layout.addWidget(RetrainComparison(store, job.ref))  # old vs new on the reviewed captures, before activating
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        ref = self.job.ref()
        if ref is not None:
            active = self.store.active()
            self.summary.setText(version_summary(self.store.meta(ref), str(ref), str(active) if active else None))

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
