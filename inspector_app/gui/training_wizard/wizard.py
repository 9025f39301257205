"""The training wizard: six pages over one :class:`.job_model.TrainingJob`, training in a child process.

Opened non-modally from the Train menu, so the inspection window keeps running underneath. The child writes
the new version when training ends; the last two pages only adjust its metadata and activate it. Closing the
wizard stops a running child (no version is written) and offers to discard a version that was never finished.
Closing the inspection window during training asks there, once; stopping from there waits for the child.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget, QWizard

from inspector_app.core.errors import InspectorError
from inspector_app.core.modelstore import ModelStore
from inspector_app.gui.training_wizard.calibration_page import CalibrationPage
from inspector_app.gui.training_wizard.data_page import DataPage
from inspector_app.gui.training_wizard.device_probe import DeviceProbe
from inspector_app.gui.training_wizard.family_page import FamilyPage
from inspector_app.gui.training_wizard.finish_page import FinishPage
from inspector_app.gui.training_wizard.job_model import TrainingJob
from inspector_app.gui.training_wizard.parameters_page import ParametersPage
from inspector_app.gui.training_wizard.training_page import TrainingPage
from inspector_app.gui.training_wizard.training_process import TrainingProcess
from inspector_app.jobs.training_spec import TrainingSpec

log = logging.getLogger(__name__)
FAMILY, DATA, PARAMETERS, TRAINING, CALIBRATION, FINISH = range(6)
B = QWizard.WizardButton
NORMAL_BUTTONS = [B.Stretch, B.BackButton, B.NextButton, B.CommitButton, B.FinishButton, B.CancelButton]
TRAINING_BUTTONS = [B.Stretch, B.NextButton, B.CommitButton, B.CancelButton]


class TrainingWizard(QWizard):
    """Family → data → parameters → training → calibration → finish.

    Args:
        store: where the child writes the version (its ``root`` is passed as ``--data-dir``).
        parent: the inspection window; when it has ``choose_model``, activation switches it to the new version.
        initial: the training spec to start from (retraining from captures, say); None starts empty.
        device: the device line to show; None asks TensorFlow in a child process.
        command: the program (and leading arguments) that runs ``inspector-app``; tests may replace it.
    """

    def __init__(self, store: ModelStore, parent: QWidget | None = None, initial: TrainingSpec | None = None,
                 *, device: str | None = None, command: list[str] | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.job = TrainingJob.from_spec(initial)
        self.setWindowTitle("Train a new model version")
        self.setWindowFlag(Qt.WindowType.Window)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage)
        self.setButtonLayout(NORMAL_BUTTONS)
        self.resize(1060, 760)
        self.process = TrainingProcess(store.root, command, self)
        self.family_page = FamilyPage(self.job)
        self.data_page = DataPage(self.job, getattr(parent, "settings", None))  # the window's: remembers the folder
        self.parameters_page = ParametersPage(self.job, store)
        self.training_page = TrainingPage(self.job, self.process)
        self.calibration_page = CalibrationPage(self.job, store)
        self.finish_page = FinishPage(self.job, store)
        pages = (self.family_page, self.data_page, self.parameters_page, self.training_page,
                 self.calibration_page, self.finish_page)
        for page_id, page in zip(range(6), pages):
            self.setPage(page_id, page)
        self.training_page.running_changed.connect(lambda _running: self._update_buttons())
        self.currentIdChanged.connect(lambda _id: self._update_buttons())
        self.process.finished.connect(self._after_training)
        self.finish_page.discard_requested.connect(self._discard_clicked)
        self.probe = DeviceProbe(self)
        self.probe.answered.connect(self.parameters_page.set_device)
        self._close_when_stopped = False
        self.finished_ok = False
        if device is not None:
            self.parameters_page.set_device(device)
        else:
            self.probe.start()

    # -- while training ---------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        """No Back from the training page while the child runs (its settings must not change under it) or
        once it has written a version (going back would not undo that; Finish offers to discard it)."""
        locked = self.currentId() == TRAINING and (self.process.running() or self.job.model is not None)
        self.setButtonLayout(TRAINING_BUTTONS if locked else NORMAL_BUTTONS)

    def _after_training(self, _ok: bool, _model: str, _reason: str) -> None:
        if self._close_when_stopped:
            self._close_when_stopped = False
            self.reject()

    # -- closing ----------------------------------------------------------------------------------------
    def accept(self) -> None:
        """Finish: the Finish page has saved label, notes and activation; switch the window when asked."""
        ref = self.job.ref()
        self.finished_ok = True
        window = self.parent()
        if ref is not None and self.job.activate and hasattr(window, "choose_model"):
            window.choose_model(ref)
        if hasattr(window, "model_panel"):
            window.model_panel.refresh()
        self.probe.stop()
        super().accept()

    def reject(self) -> None:
        """Cancel: stop a running child first; offer to discard a version that was written but not finished."""
        if self.process.running():
            if self.ask("Stop training?", "The training stops now and no version is written.",
                        ["Stop training", "Keep training"]) != "Stop training":
                return
            self._close_when_stopped = True
            self.process.cancel()
            return
        ref = self.job.ref()
        if ref is not None and not self.finished_ok:
            choice = self.ask("Keep the new version?",
                              f"{ref} was trained but not finished. Keep it in the model store or discard it?",
                              ["Discard", "Keep", "Cancel"])
            if choice == "Cancel":
                return
            if choice == "Discard":
                self.discard_version()
        self.probe.stop()
        super().reject()

    def stop_and_close(self) -> None:
        """Stop a running child and wait for it, then close without questions (the window is quitting and
        has asked already). The child writes nothing when stopped; no QProcess is left running."""
        self.process.stop_and_wait()
        self.probe.stop()
        QDialog.done(self, QDialog.DialogCode.Rejected)

    def _discard_clicked(self) -> None:
        ref = self.job.ref()
        if ref is None or self.ask("Discard this version?", f"Delete {ref}? The active model stays as it is.",
                                   ["Discard", "Cancel"]) != "Discard":
            return
        self.discard_version()
        self.probe.stop()
        super().reject()

    def discard_version(self) -> bool:
        """Delete the new version unless it is the active one; True when it was deleted."""
        ref = self.job.ref()
        if ref is None or self.store.active() == ref:
            return False
        try:
            self.store.delete(ref)
        except InspectorError as exc:
            log.warning("could not discard %s: %s", ref, exc)
            return False
        log.info("discarded %s", ref)
        self.job.model = None
        return True

    def ask(self, title: str, text: str, buttons: list[str]) -> str:
        """A question with named buttons; returns the chosen name (tests replace this)."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self)
        roles = [QMessageBox.ButtonRole.AcceptRole] + [QMessageBox.ButtonRole.RejectRole] * (len(buttons) - 1)
        made = {box.addButton(name, role): name for name, role in zip(buttons, roles)}
        box.exec()
        return made.get(box.clickedButton(), buttons[-1])
