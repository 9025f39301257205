"""Small generated datasets and a fake model shared by several test modules."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.calibration import Calibration, MapKind
from inspector_app.core.datasets import write_mvtec_layout
from inspector_app.core.demo_parts import render_part
from inspector_app.core.modelstore import ModelRef
from inspector_app.detectors.base import (
    DEFECT,
    GOOD,
    Detector,
    FitReport,
    Inference,
    Preprocessing,
    Progress,
    TrainingData,
)
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


def image_fingerprints(images: np.ndarray) -> set[bytes]:
    """One digest per image, to tell which images a model was shown."""
    return {hashlib.sha1(np.ascontiguousarray(image).tobytes()).digest() for image in images}


class SeenImagesDetector(Detector):
    """A fake family that learns from defects and remembers every image it was shown while training (fitted,
    or scored for calibration), saving their fingerprints with the model; score = mean brightness."""

    kind = "seen_images"
    title = "Seen images (test)"
    description = "remembers the images it was trained on"
    needs = frozenset({GOOD, DEFECT})

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.trained_on: set[bytes] = set()
        self.shown: set[bytes] = set()

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {"image_size": 32}

    def fit(self, data: TrainingData, progress: Progress) -> FitReport:
        for part in (data.good, data.val_good, data.defect, data.val_defect):
            if part is not None:
                self.trained_on |= image_fingerprints(part)
        progress(stage="train", message="remembered")
        return FitReport()

    def infer(self, images: np.ndarray) -> Inference:
        self.shown |= image_fingerprints(images)
        grey = images.mean(axis=-1).astype(np.float32) / 255.0
        return Inference(grey.reshape(len(images), -1).mean(axis=1), grey)

    def preprocessing(self) -> Preprocessing:
        return Preprocessing((self.image_size, self.image_size))

    def networks(self) -> dict[str, Any]:
        return {}

    def save(self, folder: Path) -> None:
        digests = np.frombuffer(b"".join(sorted(self.trained_on | self.shown)), np.uint8).reshape(-1, 20)
        np.save(folder / "trained_on.npy", digests)

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> SeenImagesDetector:
        detector = cls(config)
        detector.trained_on = {row.tobytes() for row in np.load(folder / "trained_on.npy", allow_pickle=False)}
        return detector


class GoodOnlySeenImagesDetector(SeenImagesDetector):
    """The remembering fake family, learning from good images only (as the autoencoder and patch memory do)."""

    kind = "seen_good_only"
    needs = frozenset({GOOD})
