"""Patch memory (PatchCore-style): pretrained features of good patches; distance to the nearest is the anomaly."""

from inspector_app.detectors.patch_memory.detector import PatchMemoryDetector

__all__ = ["PatchMemoryDetector"]
