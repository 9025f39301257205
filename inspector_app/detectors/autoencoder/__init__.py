"""Convolutional autoencoder: learns to redraw good parts; what it cannot redraw is the anomaly."""

from inspector_app.detectors.autoencoder.detector import AutoencoderDetector

__all__ = ["AutoencoderDetector"]
