"""Feature space for the autoencoder family: frozen pretrained CNN features instead of pixels.

Textured parts (castings, tiles, fabric) vary too much pixel by pixel for a small pixel autoencoder;
redrawing pretrained features (two stages, the deeper one upsampled to the shallower) keeps what matters
about texture and shape, and the reconstruction error becomes a sharp anomaly map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.images import resize
from inspector_app.detectors.common import runtime
from inspector_app.detectors.common.model_files import load_array

MEAN_FILE = "feature_mean.npy"
STD_FILE = "feature_std.npy"


class FeatureSpace:
    """Turns uint8 images into standardised feature maps (N × h × w × C) with one compiled function."""

    def __init__(self, backbone: str, image_size: int) -> None:
        from inspector_app.detectors.backbones import build_feature_extractor  # noqa: PLC0415

        tf = runtime.tensorflow()
        self.image_size = image_size
        extractor = build_feature_extractor(backbone)
        self.extractor = extractor  # the Keras backbone (RGB 0..255 → two feature maps), for export
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

        def features(x: Any) -> Any:
            shallow, deep = extractor(x, training=False)
            size = tf.shape(shallow)[1:3]
            deep = tf.image.resize(deep, size, method="bilinear")
            return tf.concat([shallow, deep], axis=-1)

        self._features = tf.function(features, reduce_retracing=True)
        self.features_function = features  # RGB 0..255 → N×h×w×C raw features, for export

    @property
    def grid(self) -> tuple[int, int]:
        """Height and width of the feature maps at this image size (one probe through the backbone)."""
        probe = self._features(np.zeros((1, self.image_size, self.image_size, 3), np.float32))
        return int(probe.shape[1]), int(probe.shape[2])

    def raw(self, images: np.ndarray, batch: int = 16) -> np.ndarray:
        size = self.image_size
        out = []
        for start in range(0, len(images), batch):
            chunk = images[start : start + batch]
            chunk = np.stack([resize(im, size) if im.shape[:2] != (size, size) else im for im in chunk])
            out.append(self._features(chunk.astype(np.float32)).numpy())
        return np.concatenate(out)

    def fit_statistics(self, features: np.ndarray) -> None:
        flat = features.reshape(-1, features.shape[-1])
        self.mean = flat.mean(axis=0).astype(np.float32)
        self.std = np.maximum(flat.std(axis=0), 1e-4).astype(np.float32)

    def standardise(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean) / self.std

    def save(self, folder: Path) -> None:
        np.save(Path(folder) / MEAN_FILE, self.mean, allow_pickle=False)
        np.save(Path(folder) / STD_FILE, self.std, allow_pickle=False)

    def load(self, folder: Path) -> None:
        self.mean = load_array(folder, MEAN_FILE, (None,))
        self.std = load_array(folder, STD_FILE, self.mean.shape)
