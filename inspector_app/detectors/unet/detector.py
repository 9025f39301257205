"""U-Net family: learns from defect masks which pixels are defects; the map is each pixel's defect probability.

Supervised: it needs defect images with masks (good images count as empty masks). The network is a U-Net
(:mod:`.network`) trained with binary cross-entropy plus Dice (:mod:`.losses`); the map is the probability
itself (``MapKind.MASK``: the window draws its contour at ``MASK_LEVEL``), and the image score is a statistic
of that map chosen by the ``score`` setting (:mod:`.scoring`).

Large images are tiled at native resolution as patch memory does: ``image_size`` is then the working
resolution and the network sees overlapping ``tile_size`` tiles, averaged where they overlap. Training
balances tiles that hold a defect against tiles that hold none (``good_per_defect``), because on a real line
most pixels and most images are good and a network can score well by predicting "good" everywhere.

Saved without pickle: ``model.keras`` (the inference network, built-in layers only, loaded in safe mode) and
``unet.json`` (format and settings).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.calibration import MASK_LEVEL, MapKind
from inspector_app.core.errors import TrainingCancelled
from inspector_app.detectors.base import (
    checked_images,
    DEFECT,
    GOOD,
    MASK,
    Detector,
    ExportParts,
    FitReport,
    Inference,
    Preprocessing,
    Progress,
    TrainingData,
)
from inspector_app.detectors.common import runtime
from inspector_app.detectors.common.anomaly_maps import upsample_maps
from inspector_app.detectors.common.model_files import load_keras_model
from inspector_app.detectors.common.tiling import (
    TileGeometry, cut_tiles, native_tiling, stitch, to_working_size,
)
from inspector_app.detectors.settings import Setting
from inspector_app.detectors.unet.network import NORMALIZATIONS  # Keras is imported only when it builds
from inspector_app.detectors.unet.scoring import LARGEST_AREA, MAX_PROBABILITY, SCORES, image_scores

log = logging.getLogger(__name__)
MODEL_FILE = "model.keras"
INFO_FILE = "unet.json"
FORMAT = 1
#: Training-time model from ``benchmarks/training_time_constants.py`` (2 shared CPU cores, load average 5–7,
#: ±2× with load; the mean of two runs, docs/performance.md): seconds per training tile per epoch for a 256 px
#: tile, the epoch's validation pass included, measured with the widths below only, and the power of the tile
#: size the cost grows with.
S_PER_TILE_256 = 0.44
SIZE_EXPONENT = 2.3
MEASURED_WIDTHS = {"base_filters": 8, "depth": 4}


class UNetDetector(TileGeometry, Detector):
    """U-Net segmentation trained on defect masks; the map is the defect probability of every pixel."""

    kind = "unet"
    title = "U-Net defect segmentation"
    description = ("Learns from outlined defects which pixels are defects and outlines them; needs defect "
                   "images with masks.")
    needs = frozenset({GOOD, DEFECT, MASK})
    map_kind = MapKind.MASK
    settings = {
        "image_size": Setting("Image size (px)", main=True, range=(16, 8192, 16)),
        "tile_size": Setting("Tile size (px, 0 = no tiling)", main=True, range=(0, 2048, 16)),
        "epochs": Setting("Epochs", main=True, range=(1, 10000, 1)),
        "batch_size": Setting("Batch size", main=True, range=(1, 4096, 1)),
        "score": Setting("Image score", main=True, choices=SCORES,
                         help="largest_area: pixels in the largest outlined region (a part fails on a defect "
                              "of at least that size); max_probability: the highest pixel probability"),
        "learning_rate": Setting("Learning rate", main=True),
        "augment": Setting("Augmentation (flips, brightness)", main=True),
        "early_stopping": Setting("Early stopping (patience in epochs, 0 = off)", main=True, range=(0, 1000, 1)),
        "good_per_defect": Setting("Tiles without a defect per tile with one, each epoch"),
        "bce_weight": Setting("Cross-entropy weight in the loss (Dice weight 1)"),
        "base_filters": Setting("Filters of the first level (doubling each level)", range=(1, 256, 1)),
        "depth": Setting("Levels (poolings)", range=(1, 6, 1)),
        "dropout": Setting("Dropout between convolutions"),
        "normalization": Setting("Normalisation after each convolution", choices=NORMALIZATIONS,
                                 help="group: each image on its own (same map in training and inspection); "
                                      "batch: over the training batch; none: the reference recipe"),
        "prior": Setting("Starting defect probability of every pixel (output bias)"),
        "tile_overlap": Setting("Tile overlap (fraction)"),
    }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        if self.config["score"] not in SCORES:
            msg = f"U-Net score must be one of {', '.join(SCORES)}, got {self.config['score']!r}"
            raise ValueError(msg)
        if self.config["normalization"] not in NORMALIZATIONS:
            msg = (f"U-Net normalization must be one of {', '.join(NORMALIZATIONS)}, "
                   f"got {self.config['normalization']!r}")
            raise ValueError(msg)
        self._model: Any = None
        self._forward: Any = None

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "image_size": 256,  # working resolution (square); with tiling, the full resolution to tile
            "tile_size": 0,  # 0 = no tiling; else the network's input tile inside image_size
            "tile_overlap": 0.25,
            "base_filters": 8,  # 8 → 128 over four poolings, the reference recipe
            "depth": 4,
            "dropout": 0.1,
            # Not in the reference recipe (IoU 0.92 vs 0.56 after 20 epochs on generated plates); per image rather
            # than per batch, because batch statistics of small batches made the inference maps swing.
            "normalization": "group",
            "prior": 0.02,  # the mask output starts at this probability (its bias), near the share of defect pixels
            # Magnetic tiles sat on the starting loss (an all-background map) for about 600 steps before it fell:
            # room for that plateau in the epochs and in the patience of early stopping.
            "epochs": 80,
            "batch_size": 8,
            "learning_rate": 5e-4,  # 600 steps on magnetic tiles: loss 1.10 vs 1.14 and pixel AUROC 0.72 vs 0.69 at 2e-3
            "bce_weight": 1.0,
            "good_per_defect": 1.0,
            "augment": True,
            "early_stopping": 15,
            "score": LARGEST_AREA,
            "seed": 0,
        }

    @classmethod
    def quick_config(cls) -> dict[str, Any]:
        return {"image_size": 32, "epochs": 2, "batch_size": 8, "early_stopping": 0}

    @classmethod
    def fit_to_image_size(cls, config: dict[str, Any], width: int, height: int,
                          defect_side: float | None = None) -> tuple[dict[str, Any], str]:
        """Large images with small defects lose them when shrunk to the network's input: tile them instead."""
        return native_tiling(config, int(cls.default_config()["image_size"]), width, height, "segmenting", defect_side)

    @classmethod
    def estimate_seconds(cls, config: dict[str, Any], images: int, defects: int | None = None) -> float | None:
        geometry = cls(config)  # its own tiling geometry; nothing is built until it fits
        if any(int(geometry.config[key]) != value for key, value in MEASURED_WIDTHS.items()):
            return None  # not measured
        try:
            tiles = len(geometry.origins) ** 2
        except ValueError:  # an overlap being typed; the run itself refuses it
            tiles = (geometry.image_size / geometry.tile) ** 2
        per_epoch = tiles_per_epoch(images, defects, tiles, float(geometry.config["good_per_defect"]))
        return per_epoch * S_PER_TILE_256 * (geometry.tile / 256) ** SIZE_EXPONENT

    def _tiles(self, images: np.ndarray) -> np.ndarray:
        return cut_tiles(to_working_size(images, self.image_size), self.tile, self.origins)

    def _mask_tiles(self, masks: np.ndarray) -> np.ndarray:
        """bool N×S×S masks at the working size → uint8 (N·T)×tile×tile×1, cut like the images."""
        return cut_tiles(masks.astype(np.uint8)[..., None], self.tile, self.origins)

    def preprocessing(self) -> Preprocessing:
        tiled = self.tile < self.image_size
        how = f"area to {self.image_size}, then overlapping {self.tile} px tiles" if tiled else "area"
        return Preprocessing((self.tile, self.tile), "RGB", "0..255", how)

    def networks(self) -> dict[str, Any]:
        return {"segmentation": self._model} if self._model is not None else {}

    def export_parts(self) -> ExportParts:
        """The network's mask output (tiles → defect probability), stitched like ``working_maps``, and the image
        score of :mod:`.scoring` in numpy: the largest 8-connected region at the contour level, or the peak."""
        if self._model is None:
            msg = "the U-Net has no trained network to export: fit or load it first"
            raise RuntimeError(msg)
        model = self._model

        def mask_probability(x: Any) -> Any:
            return model(x, training=False)["mask"][..., 0]  # one tensor: the export converts single outputs

        steps: list[dict[str, Any]] = [
            {"op": "network", "network": "segmentation", "input": "input", "output": "tiles"},
            {"op": "stitch_tiles", "input": "tiles", "size": self.image_size, "tile": self.tile,
             "origins": self.origins, "output": "map"},
        ]
        if self.config["score"] == MAX_PROBABILITY:
            steps.append({"op": "score", "input": "map", "percentile": 100.0})
        else:
            steps += [
                {"op": "largest_region_area", "input": "map", "level": MASK_LEVEL, "output": "area"},
                {"op": "score_value", "input": "area", "map": "map"},
            ]
        return ExportParts({"segmentation": mask_probability}, {"segmentation": (self.tile, self.tile, 3)}, {},
                           steps, self.image_size, self.origins)

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, data: TrainingData, progress: Progress) -> FitReport:
        keras = runtime.keras()
        c = self.config
        keras.utils.set_random_seed(int(c["seed"]))
        started = time.monotonic()
        progress(stage="fit", fraction=0.0, message="cutting images and masks into tiles")
        x, y = self._training_tiles(data.good, data.defect, data.defect_masks)
        val_x, val_y = self._training_tiles(data.val_good, data.val_defect, data.val_defect_masks)
        has_defect = y.reshape(len(y), -1).any(axis=1)
        if not has_defect.any():
            msg = "the U-Net needs defect images whose masks mark the defect; every training mask is empty"
            raise ValueError(msg)
        from inspector_app.detectors.unet.losses import BceDiceLoss  # noqa: PLC0415 - imports Keras
        from inspector_app.detectors.unet.network import build_unet  # noqa: PLC0415

        with runtime.distribution_strategy().scope():
            training, inference = build_unet(self.tile, int(c["base_filters"]), int(c["depth"]), float(c["dropout"]),
                                              str(c["normalization"]), float(c["prior"]))
            training.compile(optimizer=keras.optimizers.Adam(float(c["learning_rate"])),
                             loss=BceDiceLoss(float(c["bce_weight"])))
        dataset, steps, per_epoch = self._balanced_dataset(x[has_defect], y[has_defect], x[~has_defect], y[~has_defect])
        epochs = int(c["epochs"])
        from inspector_app.detectors.common.keras_progress import make_progress_callback  # noqa: PLC0415

        callback = make_progress_callback(progress, epochs)
        callbacks = [callback]
        # Mixed, not good tiles first: a batch of good tiles alone makes the batch-wide Dice swing with a few
        # faint pixels, and the validation loss early stopping watches swung 1.08 → 1.89 between epochs.
        order = np.random.default_rng(int(c["seed"])).permutation(len(val_x))
        validation = _batched(val_x[order], val_y[order], int(c["batch_size"])) if len(val_x) else None
        if int(c["early_stopping"]) > 0 and validation is not None:
            callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=int(c["early_stopping"]),
                                                           restore_best_weights=True))
        history = training.fit(dataset, epochs=epochs, steps_per_epoch=steps, validation_data=validation,
                               callbacks=callbacks, verbose=0)
        if callback.cancelled:
            raise TrainingCancelled("training cancelled by the user")
        self._set_model(inference)
        hist = {k: [float(v) for v in values] for k, values in history.history.items()}
        details = {"tiles_per_image": len(self.origins) ** 2, "defect_tiles": int(has_defect.sum()),
                   "tiles_without_defect": int((~has_defect).sum()), "tiles_per_epoch": per_epoch,
                   "validation_tiles": int(len(val_x))}
        log.info("U-Net fitted: %s", details)
        return FitReport(len(hist.get("loss", [])), hist, time.monotonic() - started, details)

    def _training_tiles(self, good: np.ndarray, defect: np.ndarray | None,
                        masks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Tiles of good images (empty masks) and defect images (their masks): uint8 images and 0/1 masks."""
        if defect is not None and len(defect) and (masks is None or len(masks) != len(defect)):
            msg = (f"the U-Net needs a mask for every defect image; got {0 if masks is None else len(masks)} "
                   f"masks for {len(defect)} defect images")
            raise ValueError(msg)
        images, labels = [], []
        if len(good):
            images.append(self._tiles(np.asarray(good)))
            labels.append(np.zeros((*images[-1].shape[:3], 1), np.uint8))
        if defect is not None and len(defect):
            resized = np.stack([_mask_at(m, self.image_size) for m in masks])
            images.append(self._tiles(np.asarray(defect)))
            labels.append(self._mask_tiles(resized))
        if not images:
            empty = np.zeros((0, self.tile, self.tile, 3), np.uint8)
            return empty, empty[..., :1]
        return np.concatenate(images), np.concatenate(labels)

    def _balanced_dataset(self, pos_x: np.ndarray, pos_y: np.ndarray, neg_x: np.ndarray,
                          neg_y: np.ndarray) -> tuple[Any, int, int]:
        """An endless stream drawing tiles with and without a defect in the ratio ``good_per_defect``, and how
        many steps (and tiles) make one epoch: every defect tile once on average, the others in proportion."""
        tf = runtime.tensorflow()
        c = self.config
        seed, batch = int(c["seed"]), int(c["batch_size"])
        ratio = max(float(c["good_per_defect"]), 0.0)
        negatives = min(len(neg_x), int(round(ratio * len(pos_x))))

        def stream(x: np.ndarray, y: np.ndarray) -> Any:
            return tf.data.Dataset.from_tensor_slices((x, y)).repeat().shuffle(min(len(x), 2048), seed=seed)

        dataset = stream(pos_x, pos_y)
        if negatives:
            share = negatives / (negatives + len(pos_x))
            dataset = tf.data.Dataset.sample_from_datasets([dataset, stream(neg_x, neg_y)], [1 - share, share],
                                                           seed=seed)
        per_epoch = len(pos_x) + negatives
        dataset = dataset.map(_augment if c["augment"] else _as_float, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(batch).prefetch(2), max(1, math.ceil(per_epoch / batch)), per_epoch

    # -- inference ------------------------------------------------------------------------------------------
    def infer(self, images: np.ndarray) -> Inference:
        if self._model is None:
            msg = "the U-Net has no trained network: fit or load it first"
            raise RuntimeError(msg)
        images = checked_images(images, "the U-Net")
        if len(images) == 0:
            return Inference(np.zeros(0, np.float32), np.zeros(images.shape[:3], np.float32))
        maps = self.working_maps(images)
        scores = image_scores(maps, str(self.config["score"]), MASK_LEVEL)
        return Inference(scores, upsample_maps(maps, images.shape[1], images.shape[2]))

    def working_maps(self, images: np.ndarray) -> np.ndarray:
        """Defect probabilities at the working resolution (N×image_size×image_size), tiles stitched."""
        tiles = self._tiles(images).astype(np.float32)
        chunk = max(1, int(self.config["batch_size"]))
        parts = [self._forward(tiles[i : i + chunk])["mask"].numpy()[..., 0] for i in range(0, len(tiles), chunk)]
        return stitch(np.concatenate(parts), len(images), self.image_size, self.tile, self.origins)

    def _set_model(self, model: Any) -> None:
        tf = runtime.tensorflow()
        self._model = model
        spec = tf.TensorSpec([None, self.tile, self.tile, 3], tf.float32)
        self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])

    # -- files ----------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        if self._model is None:
            msg = "nothing to save: the U-Net has not been fitted"
            raise RuntimeError(msg)
        folder = Path(folder)
        self._model.save(folder / MODEL_FILE)
        info = {"format": FORMAT, "tile": self.tile, "config": self.config}
        (folder / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> UNetDetector:
        folder = Path(folder)
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        if info.get("format") != FORMAT:
            msg = f"{folder}: U-Net format {info.get('format')!r} is not supported (expected {FORMAT})"
            raise ValueError(msg)
        config = dict(config)
        if "batch_norm" in config:  # versions saved before the normalization setting replaced it
            config["normalization"] = "batch" if config.pop("batch_norm") else "none"
        detector = cls(config)
        model = load_keras_model(folder, MODEL_FILE)
        if tuple(model.input_shape[1:3]) != (detector.tile, detector.tile):
            msg = f"{folder / MODEL_FILE}: network input {model.input_shape} does not match tile {detector.tile}"
            raise ValueError(msg)
        detector._set_model(model)
        return detector


def tiles_per_epoch(images: int, defects: int | None, tiles: float, good_per_defect: float) -> float:
    """At most how many tiles one epoch draws (see ``_balanced_dataset``): every defect tile once and tiles without
    a defect ``good_per_defect`` times as many, never more than all tiles. Every tile of a defect image counts as
    a defect tile, and with ``defects`` unknown every image is taken as one, so this is an upper bound."""
    everything = images * tiles
    if defects is None:
        return everything
    return min(everything, defects * tiles * (1.0 + max(good_per_defect, 0.0)))


def _mask_at(mask: np.ndarray, size: int) -> np.ndarray:
    """A bool mask at the working size (the loader gives masks at ``image_size`` already)."""
    mask = np.asarray(mask, bool)
    if mask.shape == (size, size):
        return mask
    from inspector_app.core.images import resize  # noqa: PLC0415

    return resize(mask, (size, size))


def _batched(x: np.ndarray, y: np.ndarray, batch: int) -> Any:
    tf = runtime.tensorflow()
    return tf.data.Dataset.from_tensor_slices((x, y)).map(_as_float).batch(batch)


def _as_float(image: Any, mask: Any) -> tuple[Any, Any]:
    tf = runtime.tensorflow()
    return tf.cast(image, tf.float32), tf.cast(mask, tf.float32)


def _augment(image: Any, mask: Any) -> tuple[Any, Any]:
    """The same random flips for image and mask, and a small brightness change of the image alone."""
    tf = runtime.tensorflow()
    image, mask = _as_float(image, mask)
    both = tf.concat([image, mask], axis=-1)
    both = tf.image.random_flip_left_right(both)
    both = tf.image.random_flip_up_down(both)
    image = tf.clip_by_value(both[..., :3] + tf.random.uniform([], -12.0, 12.0), 0.0, 255.0)
    return image, both[..., 3:]
