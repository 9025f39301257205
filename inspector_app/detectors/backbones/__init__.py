"""Pretrained feature extractors shared by families, with the offline EfficientNet-Lite weights and their
restricted reader (no unpickling of code)."""

from inspector_app.detectors.backbones.extractors import BACKBONES, DEFAULT_BACKBONE, build_feature_extractor

__all__ = ["BACKBONES", "DEFAULT_BACKBONE", "build_feature_extractor"]
