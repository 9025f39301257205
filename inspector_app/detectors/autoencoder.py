"""Convolutional autoencoder family: learns to rebuild good parts; what it cannot rebuild is anomalous.

Trained on good images only. The anomaly map is the smoothed per-pixel reconstruction error (squared
error, SSIM error, or both); the image score is a high percentile of that map, which is robust to a few
noisy pixels yet still sees a small defect (a plain mean would dilute it).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.errors import TrainingCancelled
from inspector_app.core.imaging import resize
from inspector_app.detectors import runtime
from inspector_app.detectors.anomaly_maps import robust_scores, smooth_maps, ssim_error_maps, upsample_maps
from inspector_app.detectors.base import GOOD, Detector, FitReport, Inference, Progress, TrainingData

log = logging.getLogger(__name__)
MODEL_FILE = "model.keras"


class AutoencoderDetector(Detector):
    kind = "autoencoder"
    title = "Convolutional autoencoder"
    description = "Learns to redraw good parts; the difference from its redrawing is the anomaly heatmap."
    needs = frozenset({GOOD})

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._model: Any = None
        self._forward: Any = None

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "image_size": 128,
            "channels": 0,  # 0 = decide from the data (1 for grey parts, 3 for colour)
            "bottleneck": 100,
            "base_filters": 32,
            "epochs": 60,
            "batch_size": 16,
            "learning_rate": 5e-4,
            "augment": True,
            "early_stopping": 10,
            "map_metric": "ssim+l2",
            "smoothing_sigma": 2.0,
            "score_percentile": 99.0,
            "seed": 0,
        }

    # -- training ---------------------------------------------------------------------------------------
    def fit(self, data: TrainingData, progress: Progress) -> FitReport:
        keras = runtime.keras()
        tf = runtime.tensorflow()
        keras.utils.set_random_seed(int(self.config["seed"]))
        if not self.config["channels"]:
            self.config["channels"] = 1 if _is_grey(data.good) else 3
        train, val = self._prepare(data.good), self._prepare(data.val_good)
        epochs = int(self.config["epochs"])
        started = time.monotonic()
        with runtime.distribution_strategy().scope():
            model = self._build()
            model.compile(optimizer=keras.optimizers.Adam(float(self.config["learning_rate"])), loss="mse")
        from inspector_app.detectors.keras_progress import make_progress_callback  # noqa: PLC0415

        callback = make_progress_callback(progress, epochs)
        callbacks = [callback]
        if int(self.config["early_stopping"]) > 0 and len(val):
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=int(self.config["early_stopping"]), restore_best_weights=True
                )
            )
        dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=int(self.config["seed"]))
        if self.config["augment"]:
            dataset = dataset.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.map(lambda x: (x, x)).batch(int(self.config["batch_size"])).prefetch(2)
        validation = (val, val) if len(val) else None
        history = model.fit(dataset, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=0, shuffle=False)
        if callback.cancelled:
            raise TrainingCancelled("training cancelled by the user")
        self._set_model(model)
        hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        return FitReport(len(hist.get("loss", [])), hist, time.monotonic() - started)

    def _build(self) -> Any:
        from inspector_app.detectors.autoencoder_network import build_autoencoder  # noqa: PLC0415

        return build_autoencoder(
            self.image_size, int(self.config["channels"]), int(self.config["bottleneck"]),
            int(self.config["base_filters"]),
        )

    # -- inference --------------------------------------------------------------------------------------
    def infer(self, images: np.ndarray) -> Inference:
        if self._model is None:
            msg = "autoencoder has no trained model: fit or load it first"
            raise RuntimeError(msg)
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            msg = f"infer expects uint8 N×H×W×3 images, got {images.dtype} {images.shape}"
            raise ValueError(msg)
        x = self._prepare(images)
        rebuilt = self._forward(x).numpy()
        maps = self._error_maps(x, rebuilt)
        maps = smooth_maps(maps, float(self.config["smoothing_sigma"]))
        scores = robust_scores(maps, float(self.config["score_percentile"]))
        return Inference(scores, upsample_maps(maps, images.shape[1], images.shape[2]))

    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """The network's redrawing of each image (uint8), for the 'what the model expected' view."""
        rebuilt = self._forward(self._prepare(images)).numpy()
        if rebuilt.shape[-1] == 1:
            rebuilt = np.repeat(rebuilt, 3, axis=-1)
        return (np.clip(rebuilt, 0, 1) * 255).round().astype(np.uint8)

    def _error_maps(self, x: np.ndarray, rebuilt: np.ndarray) -> np.ndarray:
        metric = str(self.config["map_metric"])
        parts = []
        if "l2" in metric:
            parts.append(np.mean((x - rebuilt) ** 2, axis=-1) * 10.0)
        if "ssim" in metric:
            parts.append(ssim_error_maps(x, rebuilt))
        if not parts:
            msg = f"map_metric must contain 'l2' and/or 'ssim', got {metric!r}"
            raise ValueError(msg)
        return np.sum(parts, axis=0).astype(np.float32)

    def _prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 N×H×W×3 → float32 N×S×S×C in [0, 1] at the model's size and channel count."""
        size = self.image_size
        if len(images) == 0:
            return np.zeros((0, size, size, int(self.config["channels"]) or 3), np.float32)
        resized = np.stack([resize(im, size) if im.shape[:2] != (size, size) else im for im in images])
        x = resized.astype(np.float32) / 255.0
        if int(self.config["channels"]) == 1:
            x = x @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
        return x

    def _set_model(self, model: Any) -> None:
        tf = runtime.tensorflow()
        self._model = model
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    # -- files ------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        self._model.save(Path(folder) / MODEL_FILE)

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> AutoencoderDetector:
        keras = runtime.keras()
        detector = cls(config)
        path = Path(folder) / MODEL_FILE
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
        detector._set_model(model)
        return detector


def _is_grey(images: np.ndarray, sample: int = 32) -> bool:
    """True when the images carry no colour (R = G = B), as with most industrial mono cameras."""
    chosen = images[: min(sample, len(images))].astype(np.int16)
    return bool(np.abs(chosen[..., 0] - chosen[..., 1]).max() <= 2 and np.abs(chosen[..., 1] - chosen[..., 2]).max() <= 2)


def _augment(image: Any) -> Any:
    """Flips and small brightness changes: variation good parts have on a real line."""
    tf = runtime.tensorflow()
    image = tf.image.random_flip_left_right(image)
    image = tf.image.random_flip_up_down(image)
    image = tf.image.random_brightness(image, 0.05)
    return tf.clip_by_value(image, 0.0, 1.0)
