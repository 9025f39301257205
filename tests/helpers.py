"""Small generated datasets and a fake model shared by several test modules."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from inspector_app.core.calibration import Calibration, MapKind
from inspector_app.core.datasets import write_mvtec_layout
from inspector_app.core.demo_parts import render_part
from inspector_app.core.modelstore import ModelRef
from inspector_app.detectors.loaded_model import Inspection


def tiny_parts_dataset(folder: Path, size: int = 64, train_good: int = 24, test_good: int = 6, per_defect: int = 3) -> Path:
    """A small MVTec-layout dataset of generated parts (seconds to write, seconds to train on)."""
    good_train = [render_part(100 + i, size)[0] for i in range(train_good)]
    good_test = [render_part(500 + i, size)[0] for i in range(test_good)]
    defects = {
        kind: [render_part(900 + 10 * k + i, size, defect=kind) for i in range(per_defect)]
        for k, kind in enumerate(["scratch", "hole", "stain"])
    }
    return write_mvtec_layout(folder, good_train, good_test, defects)


class BrightFailsModel:
    """A fake loaded model: bright frames fail (score = mean brightness, threshold 0.5), with a map as bright as
    the frame; optionally slow."""

    family = "fake"
    map_kind = MapKind.ANOMALY

    def __init__(self, ref: ModelRef, delay: float = 0.0) -> None:
        self.ref = ref
        self.delay = delay
        self.calibration = Calibration(threshold=0.5, score_low=0.0, map_low=0.0, method="fake")
        self.meta = {"family": "fake", "calibration": self.calibration.to_json()}
        self.calls = 0

    def inspect(self, images: np.ndarray) -> Inspection:
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        scores = images.reshape(len(images), -1).mean(axis=1) / 255.0
        maps = (images.mean(axis=-1) / 255.0).astype(np.float32)
        calibration = self.calibration
        return Inspection(scores, calibration.normalise_scores(scores), calibration.normalise_maps(maps),
                          calibration.verdicts(scores))

    def set_threshold(self, value: float) -> None:
        self.calibration = self.calibration.with_threshold(value)
