"""U-Net defect segmentation: learns from labelled defect masks; the map is each pixel's defect probability."""

from inspector_app.detectors.unet.detector import UNetDetector

__all__ = ["UNetDetector"]
