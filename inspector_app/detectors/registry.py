"""The list of model families, shared by the CLI and the GUI.

Family modules import TensorFlow only inside methods, so listing families stays fast.
"""

from __future__ import annotations

import importlib

from inspector_app.detectors.base import Detector

#: kind → "module:ClassName". Order is the order users see.
FAMILIES: dict[str, str] = {
    "patch_memory": "inspector_app.detectors.patch_memory:PatchMemoryDetector",
    "autoencoder": "inspector_app.detectors.autoencoder:AutoencoderDetector",
    "unet": "inspector_app.detectors.unet:UNetDetector",
    "metric": "inspector_app.detectors.metric:MetricDetector",
    "cam_classifier": "inspector_app.detectors.cam_classifier:CamClassifierDetector",
}


def detector_class(kind: str) -> type[Detector]:
    """The class for ``kind``; a clear error names the known families."""
    try:
        target = FAMILIES[kind]
    except KeyError:
        msg = f"unknown model family {kind!r}; known: {', '.join(FAMILIES)}"
        raise ValueError(msg) from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def available_families() -> list[type[Detector]]:
    """Every family whose module imports on this installation."""
    found = []
    for kind in FAMILIES:
        try:
            found.append(detector_class(kind))
        except ImportError:
            continue
    return found
