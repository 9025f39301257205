"""CAM classifier: a fine-tuned CNN says good or defect; its class-activation map shows where it saw the defect."""

from inspector_app.detectors.cam_classifier.detector import CamClassifierDetector

__all__ = ["CamClassifierDetector"]
