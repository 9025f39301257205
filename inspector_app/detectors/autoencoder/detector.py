"""Convolutional autoencoder family: learns to rebuild good parts; what it cannot rebuild is anomalous.

Trained on good images only. The anomaly map is the smoothed per-pixel reconstruction error (squared
error, SSIM error, or both), standardised per pixel by how large that error is on good parts: edges and
textures that the network always redraws imperfectly stop looking anomalous, and a small defect on a
smooth area stands out. The image score is the map's maximum (or a high percentile), so a small defect
counts fully instead of being diluted by a mean.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.errors import TrainingCancelled
from inspector_app.core.images import resize
from inspector_app.detectors.common import runtime
from inspector_app.detectors.common.model_files import load_array, load_keras_model
from inspector_app.detectors.common.anomaly_maps import robust_scores, smooth_maps, ssim_error_maps, upsample_maps
from inspector_app.detectors.backbones import BACKBONES
from inspector_app.detectors.base import (
    checked_images,
    GOOD, Detector, ExportParts, FitReport, Inference, Preprocessing, Progress, TrainingData,
)
from inspector_app.detectors.settings import Setting

log = logging.getLogger(__name__)
MODEL_FILE = "model.keras"
ERROR_MEAN_FILE = "error_mean.npy"
ERROR_STD_FILE = "error_std.npy"
#: Good images used to measure the typical per-pixel error after fitting.
STATS_IMAGES = 300
#: Training-time model from ``inspector-app bench --training`` on magnetic_tile (2 shared CPU cores, ±2× with
#: load): seconds per image per epoch at 128 px and 32 base filters, and how that grows with size and filters.
S_PER_IMAGE_128 = 0.026
SIZE_EXPONENT = 2.2
FILTER_EXPONENT = 1.8
_FEATURES = ("input_space", "features")


class AutoencoderDetector(Detector):
    kind = "autoencoder"
    title = "Convolutional autoencoder"
    description = "Learns to redraw good parts; the difference from its redrawing is the anomaly heatmap."
    needs = frozenset({GOOD})
    settings = {
        "image_size": Setting("Image size (px)", main=True, range=(16, 8192, 16)),
        "epochs": Setting("Epochs", main=True, range=(1, 10000, 1)),
        "batch_size": Setting("Batch size", main=True, range=(1, 4096, 1)),
        "learning_rate": Setting("Learning rate", main=True),
        "input_space": Setting("Learn from (pixels, or pretrained features)", main=True,
                               choices=("pixels", "features")),
        "backbone": Setting("Backbone", main=True, choices=tuple(BACKBONES), depends_on=_FEATURES),
        "augment": Setting("Augmentation (flips, brightness)", main=True),
        "early_stopping": Setting("Early stopping (patience in epochs, 0 = off)", main=True, range=(0, 1000, 1)),
        "feature_bottleneck": Setting("Feature bottleneck (channels)", depends_on=_FEATURES),
        "map_metric": Setting("Map metric", choices=("l2", "ssim", "ssim+l2")),
        "smoothing_sigma": Setting("Map smoothing (Gaussian sigma, px)"),
        "calibration_folds": Setting("Calibration folds (models fitted to score every good image; 0 = held-out "
                                     "images only)", range=(0, 10, 1)),
    }

    @classmethod
    def quick_config(cls) -> dict[str, Any]:
        return {"image_size": 32, "epochs": 2, "batch_size": 8, "base_filters": 8, "bottleneck": 16}

    @classmethod
    def estimate_seconds(cls, config: dict[str, Any], images: int, defects: int | None = None) -> float | None:
        config = {**cls.default_config(), **config}
        if config["input_space"] != "pixels":
            return None  # not measured
        return (images * S_PER_IMAGE_128 * (float(config["image_size"]) / 128) ** SIZE_EXPONENT
                * (float(config["base_filters"]) / 32) ** FILTER_EXPONENT)

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._model: Any = None
        self._forward: Any = None
        self._error_mean: np.ndarray | None = None
        self._error_std: np.ndarray | None = None
        self._space: Any = None  # FeatureSpace when input_space == "features"
        self._epochs_kept = 0  # the epoch whose weights fit kept (early stopping restores the best)

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "image_size": 128,
            # "pixels" redraws the image; "features" redraws pretrained CNN features (textured parts).
            "input_space": "pixels",
            "backbone": "efficientnet_lite0",
            "feature_bottleneck": 64,
            "channels": 0,  # 0 = decide from the data (1 for grey parts, 3 for colour)
            "bottleneck": 100,
            "base_filters": 32,
            "epochs": 60,
            "batch_size": 16,
            "learning_rate": 5e-4,
            "augment": True,
            "early_stopping": 10,
            "map_metric": "l2",
            "smoothing_sigma": 1.5,
            "standardise": True,
            "score_percentile": 100.0,
            # Off: on magnetic_tile two folds tripled training time and gave the held-out slice's false-alarm rate
            # (docs/performance.md); worth it where the held-out slice is small.
            "calibration_folds": 0,
            "seed": 0,
        }

    # -- training ---------------------------------------------------------------------------------------
    def fit(self, data: TrainingData, progress: Progress) -> FitReport:
        keras = runtime.keras()
        tf = runtime.tensorflow()
        keras.utils.set_random_seed(int(self.config["seed"]))
        started = time.monotonic()
        if not self.config["channels"]:
            self.config["channels"] = 1 if _is_grey(data.good) else 3
        if self._uses_features:
            progress(stage="fit", message="extracting pretrained features", fraction=0.0)
            train, val = self._feature_inputs(data.good, data.val_good)
        else:
            train, val = self._prepare(data.good), self._prepare(data.val_good)
        epochs = int(self.config["epochs"])
        with runtime.distribution_strategy().scope():
            model = self._build(train.shape[-1])
            model.compile(optimizer=keras.optimizers.Adam(float(self.config["learning_rate"])), loss="mse")
        from inspector_app.detectors.common.keras_progress import make_progress_callback  # noqa: PLC0415

        callback = make_progress_callback(progress, epochs)
        callbacks = [callback]
        if int(self.config["early_stopping"]) > 0 and len(val):
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=int(self.config["early_stopping"]), restore_best_weights=True
                )
            )
        dataset = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=int(self.config["seed"]))
        if self.config["augment"] and not self._uses_features:
            dataset = dataset.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.map(lambda x: (x, x)).batch(int(self.config["batch_size"])).prefetch(2)
        validation = (val, val) if len(val) else None
        history = model.fit(dataset, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=0, shuffle=False)
        if callback.cancelled:
            raise TrainingCancelled("training cancelled by the user")
        self._set_model(model)
        if self.config["standardise"]:
            progress(stage="fit", message="measuring the typical error of good parts", fraction=1.0)
            self._measure_error_statistics(data.good[_spread(len(data.good), STATS_IMAGES)])
        hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        restored = int(self.config["early_stopping"]) > 0 and hist.get("val_loss")
        self._epochs_kept = int(np.argmin(hist["val_loss"])) + 1 if restored else len(hist.get("loss", []))
        return FitReport(len(hist.get("loss", [])), hist, time.monotonic() - started,
                         {"epochs_kept": self._epochs_kept})

    def out_of_fold_scores(self, good: np.ndarray, progress: Progress) -> np.ndarray | None:
        """Every training image scored by a model fitted without it; None with fewer than two folds.

        An autoencoder redraws its own training images better than new parts, so its own scores of them would
        put the threshold too low, and the held-out slice alone (a fifth of the good images) leaves the 1 % tail
        to a fit over a handful of scores. Each of the ``calibration_folds`` models is fitted on the other
        folds for as many gradient steps as this fit kept: a model given fewer steps redraws worse everywhere,
        its per-pixel standardisation grows with that, and its scores come out smaller than this model's
        (measured in docs/performance.md), which would set the threshold too low.
        """
        folds = int(self.config["calibration_folds"])
        if folds < 2 or len(good) < 2 * folds or self._epochs_kept < 1:
            return None

        def fit_member(images: np.ndarray, member_progress: Progress) -> Any:
            epochs = int(np.ceil(self._epochs_kept * len(good) / len(images)))  # the same number of steps
            member = AutoencoderDetector({**self.config, "calibration_folds": 0, "epochs": epochs,
                                          "early_stopping": 0})
            member.fit(TrainingData(good=images, val_good=images[:0]), member_progress)
            return lambda held: member.infer_batched(held).scores

        from inspector_app.detectors.common.folds import out_of_fold_scores  # noqa: PLC0415

        return out_of_fold_scores(good, folds, int(self.config["seed"]), fit_member, progress)

    @property
    def _uses_features(self) -> bool:
        space = str(self.config["input_space"])
        if space not in {"pixels", "features"}:
            msg = f"input_space must be 'pixels' or 'features', got {space!r}"
            raise ValueError(msg)
        return space == "features"

    def _feature_space(self) -> Any:
        if self._space is None:
            from inspector_app.detectors.autoencoder.features import FeatureSpace  # noqa: PLC0415

            self._space = FeatureSpace(str(self.config["backbone"]), self.image_size)
        return self._space

    def _feature_inputs(self, good: np.ndarray, val_good: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        space = self._feature_space()
        train = space.raw(good)
        space.fit_statistics(train)
        val = space.raw(val_good) if len(val_good) else train[:0]
        return space.standardise(train), space.standardise(val)

    def _build(self, channels: int) -> Any:
        from inspector_app.detectors.autoencoder.network import build_autoencoder, build_feature_autoencoder  # noqa: PLC0415

        if self._uses_features:
            return build_feature_autoencoder(channels, int(self.config["feature_bottleneck"]))
        return build_autoencoder(
            self.image_size, int(self.config["channels"]), int(self.config["bottleneck"]),
            int(self.config["base_filters"]),
        )

    # -- inference --------------------------------------------------------------------------------------
    def infer(self, images: np.ndarray) -> Inference:
        if self._model is None:
            msg = "autoencoder has no trained model: fit or load it first"
            raise RuntimeError(msg)
        images = checked_images(images, "the autoencoder")
        maps = self._smoothed_errors(images)
        if self._error_mean is not None and self._error_std is not None:
            maps = (maps - self._error_mean) / self._error_std
        scores = robust_scores(maps, float(self.config["score_percentile"]))
        return Inference(scores, upsample_maps(maps, images.shape[1], images.shape[2]))

    def _smoothed_errors(self, images: np.ndarray) -> np.ndarray:
        """Reconstruction error at the model's input size (S×S), smoothed."""
        if self._uses_features:
            space = self._feature_space()
            x = space.standardise(space.raw(images))
            errors = np.mean((x - self._forward(x).numpy()) ** 2, axis=-1)
            maps = upsample_maps(errors, self.image_size, self.image_size)
        else:
            x = self._prepare(images)
            maps = self._error_maps(x, self._forward(x).numpy())
        return smooth_maps(maps, float(self.config["smoothing_sigma"]))

    def _measure_error_statistics(self, good: np.ndarray) -> None:
        """Per-pixel mean and spread of the error on good parts; the spread gets a floor so a pixel that
        is always redrawn perfectly does not turn noise into a huge standardised error."""
        errors = np.concatenate([self._smoothed_errors(good[i : i + 16]) for i in range(0, len(good), 16)])
        std = errors.std(axis=0)
        floor = max(float(np.median(std)) * 0.5, 1e-6)
        self._error_mean = errors.mean(axis=0).astype(np.float32)
        self._error_std = np.maximum(std, floor).astype(np.float32)

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

    def preprocessing(self) -> Preprocessing:
        size = (self.image_size, self.image_size)
        if self._uses_features:  # the backbone scales its own input
            return Preprocessing(size, "RGB", "0..255")
        return Preprocessing(size, "grey" if int(self.config["channels"]) == 1 else "RGB", "0..1")

    def networks(self) -> dict[str, Any]:
        found = {"autoencoder": self._model} if self._model is not None else {}
        if self._uses_features:
            found["features"] = self._feature_space().extractor
        return found

    def export_parts(self) -> ExportParts:
        """The autoencoder (and the feature network before it) plus the numpy error, smoothing and
        standardisation that ``infer`` applies after them."""
        if self._model is None:
            msg = "autoencoder has no trained model to export: fit or load it first"
            raise RuntimeError(msg)
        size, c = self.image_size, self.config
        steps: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray] = {}
        networks: dict[str, Any] = {"autoencoder": self._model}
        if self._uses_features:
            space = self._feature_space()
            networks["features"] = space.features_function
            arrays.update(feature_mean=space.mean, feature_std=space.std)
            steps += [
                {"op": "network", "network": "features", "input": "input", "output": "raw_features"},
                {"op": "standardise", "input": "raw_features", "mean": "feature_mean", "std": "feature_std",
                 "output": "features"},
                {"op": "network", "network": "autoencoder", "input": "features", "output": "rebuilt"},
                {"op": "reconstruction_error", "input": "features", "rebuilt": "rebuilt", "metric": "l2",
                 "l2_scale": 1.0, "output": "error"},
                {"op": "resize_bilinear", "input": "error", "size": size, "output": "error"},
            ]
            grid = space.grid
            shapes = {"features": (size, size, 3), "autoencoder": (*grid, int(space.mean.shape[0]))}
        else:
            steps += [
                {"op": "network", "network": "autoencoder", "input": "input", "output": "rebuilt"},
                {"op": "reconstruction_error", "input": "input", "rebuilt": "rebuilt", "metric": str(c["map_metric"]),
                 "l2_scale": 10.0, "output": "error"},
            ]
            shapes = {"autoencoder": (size, size, int(c["channels"]))}
        steps.append({"op": "gaussian_blur", "input": "error", "sigma": float(c["smoothing_sigma"]), "output": "map"})
        if self._error_mean is not None and self._error_std is not None:
            arrays.update(error_mean=self._error_mean, error_std=self._error_std)
            steps.append({"op": "standardise", "input": "map", "mean": "error_mean", "std": "error_std",
                          "output": "map"})
        steps.append({"op": "score", "input": "map", "percentile": float(c["score_percentile"])})
        return ExportParts(networks, shapes, arrays, steps, size)

    def _set_model(self, model: Any) -> None:
        tf = runtime.tensorflow()
        self._model = model
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    # -- files ------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        self._model.save(folder / MODEL_FILE)
        if self._uses_features:
            self._feature_space().save(folder)
        if self._error_mean is not None and self._error_std is not None:
            np.save(folder / ERROR_MEAN_FILE, self._error_mean, allow_pickle=False)
            np.save(folder / ERROR_STD_FILE, self._error_std, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> AutoencoderDetector:
        detector = cls(config)
        detector._set_model(load_keras_model(folder, MODEL_FILE))
        if detector._uses_features:
            detector._feature_space().load(Path(folder))
        if detector.config["standardise"]:
            # One value per pixel of the input: a file of any other shape would fail on the first frame.
            grid = (detector.image_size, detector.image_size)
            detector._error_mean = load_array(folder, ERROR_MEAN_FILE, grid)
            detector._error_std = load_array(folder, ERROR_STD_FILE, grid)
        return detector


def _spread(count: int, wanted: int) -> np.ndarray:
    """Indices of at most ``wanted`` of ``count`` images spread evenly over them: images arrive in path order,
    and the first few hundred may all be one capture batch, whose error statistics then misjudge the others."""
    return np.unique(np.linspace(0, count - 1, min(count, wanted)).round().astype(np.int64))


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
