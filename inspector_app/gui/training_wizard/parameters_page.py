"""Page 3: the family's settings with defaults that work, an Advanced section, a time estimate and the device.

Defaults come from the family itself, so a fresh user only presses Next. The device line is what TensorFlow
reports from a child process (see :mod:`.device_probe`), never from the GUI thread.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget,
    QWizardPage,
)

from inspector_app.core.errors import ModelStoreError
from inspector_app.core.modelstore import ModelRef, ModelStore, check_name
from inspector_app.detectors.base import DEFECT
from inspector_app.detectors.registry import detector_class
from inspector_app.detectors.settings import describe
from inspector_app.gui.training_wizard.config_form import Editor, make_editor
from inspector_app.gui.training_wizard.device_probe import CHECKING
from inspector_app.gui.training_wizard.estimates import estimate_text
from inspector_app.gui.training_wizard.job_model import TrainingJob
from inspector_app.gui.training_wizard.synthetic_preview import SyntheticPreviewDialog, has_preview


def default_name(job: TrainingJob) -> str:
    """The data folder's name made safe for the model store, e.g. 'magnetic_tile'."""
    base = Path(job.data[0]).name if job.data else "model"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip(".-") or "model"
    return safe[:64]


def suggested_name(job: TrainingJob, store: ModelStore) -> str:
    """``default_name``, or ``<name>-<family>`` when a model of that name holds another family's versions
    (a model name is one line of versions to roll back between; mixing families there confuses it)."""
    name = default_name(job)
    versions = store.versions(name) if name in store.names() else []
    if not versions:
        return name
    try:
        family = store.meta(ModelRef(name, versions[-1])).get("family")
    except ModelStoreError:
        return name
    return name if family == job.family else f"{name}-{job.family}"[:64]


class ParametersPage(QWizardPage):
    """Model name, the family's settings (main + Advanced), the estimate and the device line."""

    def __init__(self, job: TrainingJob, store: ModelStore) -> None:
        super().__init__()
        self.job = job
        self.store = store
        self.setTitle("3 · Parameters")
        self.setSubTitle("The defaults suit most parts; change them only for a reason.")
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setToolTip("A new name starts a new model; an existing name adds a version to it")
        self.version_hint = QLabel()
        self.main_form = QFormLayout()
        self.advanced_form = QFormLayout()
        self.advanced = QWidget()
        self.advanced.setLayout(self.advanced_form)
        self.advanced.setVisible(False)
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("▸ Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.toggled.connect(self._toggle_advanced)
        self.reset = QPushButton("Reset to defaults")
        self.reset.clicked.connect(self._reset)
        self.preview_button = QPushButton("Preview synthetic anomalies…")
        self.preview_button.setToolTip("Samples of what this family draws on good images to learn from")
        self.preview_button.clicked.connect(self.open_preview)
        self.preview_button.setVisible(False)
        self.preview: SyntheticPreviewDialog | None = None
        self.estimate = QLabel()
        self.estimate.setWordWrap(True)
        self.device = QLabel(f"Device: {CHECKING}")
        self.device.setWordWrap(True)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #cf222e;")
        self.size_note = QLabel()  # what the family chose for the data's image size
        self.size_note.setWordWrap(True)
        self.size_note.setStyleSheet("color: #57606a;")
        self.editors: dict[str, Editor] = {}
        self._family = ""
        self._proposal: dict[str, Any] = {}  # what fit_to_image_size proposed for the data last seen
        self._proposed_for: tuple[int, int] | None = None  # that data's image size
        self._build_layout()
        self.name.currentTextChanged.connect(self._update_hints)

    def _build_layout(self) -> None:
        self.name.setMinimumWidth(320)
        name_row = QFormLayout()
        name_row.addRow("Model name", self.name)
        name_row.addRow("", self.version_hint)
        name_row.addRow("", self.problem)
        for form in (name_row, self.main_form, self.advanced_form):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        settings = QGroupBox("Settings")
        inner = QVBoxLayout(settings)
        inner.addLayout(self.main_form)
        inner.addWidget(self.size_note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.advanced_toggle)
        buttons.addStretch(1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.reset)
        inner.addLayout(buttons)
        inner.addWidget(self.advanced)
        timing = QGroupBox("Time and device")
        timing_layout = QVBoxLayout(timing)
        timing_layout.addWidget(self.estimate)
        timing_layout.addWidget(self.device)
        layout = QVBoxLayout(self)
        layout.addLayout(name_row)
        layout.addWidget(settings)
        layout.addWidget(timing)
        layout.addStretch(1)

    def set_device(self, text: str) -> None:
        """Show what TensorFlow found (called when the probe answers)."""
        gpu = "GPU" in text
        shown = text if gpu else text.replace("training will be slower", "this will be slower")
        self.device.setText(f"Device: {shown}")
        self.device.setStyleSheet("" if gpu or text == CHECKING else "color: #9a6700;")
        self._update_hints()

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        self.name.blockSignals(True)
        self.name.clear()
        self.name.addItems(self.store.names())
        self.name.setCurrentText(self.job.name or suggested_name(self.job, self.store))
        self.name.blockSignals(False)
        if self._family != self.job.family:
            self._build_editors()
        else:
            self._follow_data()
        self._update_hints()

    def _build_editors(self) -> None:
        family = detector_class(self.job.family)
        defaults = family.default_config()
        for form in (self.main_form, self.advanced_form):
            while form.rowCount():
                form.removeRow(0)
        self.editors = {}
        defaults = self._fitted_to_data(family, defaults)
        main = [k for k, setting in family.settings.items() if setting.main and k in defaults]
        rest = [k for k in defaults if k not in main]
        for key in main + rest:
            setting = describe(key, family.settings)
            editor = make_editor(key, defaults[key], setting, self._update_hints)
            editor.set(self.job.config.get(key, defaults[key]))
            editor.widget.setToolTip(setting.help)
            (self.main_form if key in main else self.advanced_form).addRow(setting.label, editor.widget)
            self.editors[key] = editor
        self.advanced_toggle.setVisible(bool(rest))
        self.preview_button.setVisible(has_preview(family))
        self._family = self.job.family

    def open_preview(self) -> None:
        """Show the synthetic anomalies the family would make from this data with the settings as they are."""
        if self.preview is None:
            self.preview = SyntheticPreviewDialog(self)
        self.preview.show_for(detector_class(self.job.family), list(self.job.data), self.config())
        self.preview.show()
        self.preview.raise_()

    def _fitted_to_data(self, family: type, defaults: dict[str, Any]) -> dict[str, Any]:
        """The family's choice for the data's image size (large images: tiles at native resolution), shown
        with its reason, unless the job already carries settings (a retrain or an earlier visit)."""
        summary = self.job.data_summary
        self.size_note.setText("")
        self._proposal, self._proposed_for = {}, None if summary is None else summary.image_size
        if self.job.config or summary is None or summary.image_size is None:
            return defaults
        chosen, note = family.fit_to_image_size({}, *summary.image_size, summary.defect_side(DEFECT in family.needs))
        self._proposal = chosen
        self.size_note.setText(f"Proposed for this data: {note}." if note else "")
        return {**defaults, **chosen}

    def _follow_data(self) -> None:
        """Propose again when the data's image size changed since the last proposal (the user went back and
        chose other folders); a setting changed by hand from what was proposed keeps its value."""
        summary = self.job.data_summary
        size = None if summary is None else summary.image_size
        if size == self._proposed_for:
            return
        family = detector_class(self.job.family)
        defaults = family.default_config()
        side = summary.defect_side(DEFECT in family.needs) if summary is not None else None
        chosen, note = family.fit_to_image_size({}, *size, side) if size is not None else ({}, "")
        for key in set(self._proposal) | set(chosen):
            editor = self.editors.get(key)
            if editor is not None and editor.get() == self._proposal.get(key, defaults[key]):
                editor.set(chosen.get(key, defaults[key]))
        self._proposal, self._proposed_for = chosen, size
        self.size_note.setText(f"Proposed for this data: {note}." if note else "")

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_toggle.setText(("▾" if shown else "▸") + " Advanced")

    def _reset(self) -> None:
        defaults = detector_class(self.job.family).default_config()
        for key, editor in self.editors.items():
            editor.set(defaults[key])
        self._proposal = {}
        self.size_note.setText("")

    def config(self) -> dict[str, Any]:
        return {key: editor.get() for key, editor in self.editors.items()}

    def _update_hints(self) -> None:
        name = self.name.currentText().strip()
        try:
            check_name(name)
        except ModelStoreError as exc:
            self.version_hint.setText("")
            self.problem.setText(str(exc))
        else:
            self.problem.setText("")
            existing = "adds a version to this model" if name in self.store.names() else "a new model"
            self.version_hint.setText(f"will be saved as {name}@{self.store.next_version(name)} ({existing})")
        config = self.config()
        settings = detector_class(self.job.family).settings
        for key, setting in settings.items():
            if setting.depends_on and key in self.editors and setting.depends_on[0] in config:
                other, wanted = setting.depends_on
                self.editors[key].widget.setEnabled(config[other] == wanted)
        summary = self.job.data_summary
        uses_defects = "defect" in detector_class(self.job.family).needs
        images = summary.training_images(uses_defects) if summary else 0
        defects = summary.supervised.train_defect if summary and uses_defects else None
        on_gpu = "GPU" in self.device.text()
        self.estimate.setText("Time: " + estimate_text(self.job.family, config, images, on_gpu, defects))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        return not self.problem.text() and bool(self.editors)

    def validatePage(self) -> bool:  # noqa: N802 - Qt API
        self.job.name = self.name.currentText().strip()
        self.job.config = self.config()
        return self.isComplete()
