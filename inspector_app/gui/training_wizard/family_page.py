"""Page 1: which detector family to train, what data each needs, and whether the chosen data allows it.

Families come from the registry (listing them imports no TensorFlow), so a family added later appears here
without GUI changes. When the wizard was opened with data (e.g. retraining from captures), each family says at
once whether that data suits it; otherwise the data page checks it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QButtonGroup, QFrame, QLabel, QRadioButton, QVBoxLayout, QWizardPage

from inspector_app.detectors.registry import FAMILIES, available_families
from inspector_app.gui.training_wizard.data_summary import missing_text, needs_text, summarize
from inspector_app.gui.training_wizard.job_model import TrainingJob

OK_COLOUR, BAD_COLOUR, NEUTRAL_COLOUR = "#1a7f37", "#cf222e", "#57606a"
ADVICE = ("Not sure? Start with a family that needs good images only: it learns what a good part looks like and "
          "flags anything that differs, including defects nobody has seen yet. Families that learn from defect "
          "images (and masks) need labelled examples, and catch the defect types they were shown more reliably.")


class FamilyPage(QWizardPage):
    """One radio button per family with its description, its data needs and a verdict on the chosen data."""

    def __init__(self, job: TrainingJob, families: list[type[Any]] | None = None) -> None:
        super().__init__()
        self.job = job
        self.setTitle("1 · Model family")
        self.setSubTitle("What kind of detector to train. Each family learns from different data.")
        self.families = families if families is not None else available_families()
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QRadioButton] = {}
        self.status: dict[str, QLabel] = {}
        layout = QVBoxLayout(self)
        for family in self.families:
            layout.addWidget(self._family_box(family))
        missing = [kind for kind in FAMILIES if kind not in {f.kind for f in self.families}]
        if missing and families is None:
            note = QLabel(f"Not available in this installation: {', '.join(missing)}.")
            note.setStyleSheet(f"color: {NEUTRAL_COLOUR};")
            layout.addWidget(note)
        if not self.families:
            layout.addWidget(QLabel("No detector family is installed; reinstall inspector-app."))
        advice = QLabel(ADVICE)
        advice.setWordWrap(True)
        advice.setStyleSheet(f"color: {NEUTRAL_COLOUR};")
        layout.addSpacing(12)
        layout.addWidget(advice)
        layout.addStretch(1)
        self.group.buttonToggled.connect(lambda *_: self.completeChanged.emit())
        chosen = self.buttons.get(job.family) or next(iter(self.buttons.values()), None)
        if chosen is not None:
            chosen.setChecked(True)

    def _family_box(self, family: type[Any]) -> QFrame:
        box = QFrame()
        box.setFrameShape(QFrame.Shape.StyledPanel)
        inner = QVBoxLayout(box)
        button = QRadioButton(f"{family.title}  ({family.kind})")
        font = button.font()
        font.setBold(True)
        button.setFont(font)
        self.group.addButton(button)
        self.buttons[family.kind] = button
        text = QLabel(f"{family.description}\nNeeds: {needs_text(family.needs)}.")
        text.setWordWrap(True)
        text.setContentsMargins(24, 0, 0, 0)
        status = QLabel()
        status.setWordWrap(True)
        status.setContentsMargins(24, 0, 0, 0)
        self.status[family.kind] = status
        for widget in (button, text, status):
            inner.addWidget(widget)
        return box

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        self.refresh()

    def refresh(self) -> None:
        """Say, for each family, whether the chosen data allows it."""
        if self.job.data_summary is None and (self.job.data or self.job.extra_good):
            self.job.data_summary = summarize(self.job.data, self.job.extra_good, self.job.val_fraction, self.job.seed)
        summary = self.job.data_summary
        for family in self.families:
            label = self.status[family.kind]
            if summary is None:
                label.setText("Choose the data on the next page to see whether it allows this family.")
                colour = NEUTRAL_COLOUR
            elif summary.error:
                label.setText(f"The chosen data cannot be read: {summary.error}")
                colour = BAD_COLOUR
            elif missing := summary.missing_for(family.needs):
                label.setText(f"✗ The chosen data lacks {', '.join(sorted(missing))} for this family: add "
                              f"{missing_text(missing)}.")
                colour = BAD_COLOUR
            else:
                label.setText("✓ The chosen data allows this family.")
                colour = OK_COLOUR
            label.setStyleSheet(f"color: {colour};")

    def selected(self) -> str | None:
        for kind, button in self.buttons.items():
            if button.isChecked():
                return kind
        return None

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        return self.selected() is not None

    def validatePage(self) -> bool:  # noqa: N802 - Qt API
        kind = self.selected()
        if kind is None:
            return False
        if kind != self.job.family:
            self.job.config = {}  # another family's settings do not apply
        self.job.family = kind
        return True
