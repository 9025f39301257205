"""The training wizard: retrain from the inspection window, with training in a child process."""

from inspector_app.gui.training_wizard.wizard import TrainingWizard

__all__ = ["TrainingWizard"]
