"""Metric-learning family: learn "normal" by telling good parts from synthetic anomalies, then score distance.

Trained on good images only. Each good image also yields synthetic anomalies (thin lines, local
distortions, cut-and-paste scars: :mod:`.synthetic`), and a small trunk on top of frozen pretrained features
learns to classify normal against each anomaly kind through an angular-margin head (:mod:`.heads`), which
packs the normal class tightly on the unit sphere. At inference the head is not asked for a verdict: the
embedding of an image is scored against the embeddings of the good training images (:mod:`.scoring`: local
outlier factor, nearest cosine, or the normal centre), so real defects unlike any synthetic one still score
high when they move the embedding away from normal. The map is Grad-CAM of the "not normal" direction on the
trunk's last convolution block: an explanation in arbitrary units (``MapKind.EXPLANATION``).

Saved without pickle: the trunk as ``trunk.keras`` (registered layers, safe mode), the normal embeddings as
``normal_embeddings.npy`` (the scorer is refitted from them on load) and ``metric.json``; the frozen backbone
is rebuilt from its named weights on load.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.calibration import MapKind
from inspector_app.core.errors import TrainingCancelled
from inspector_app.core.images import resize
from inspector_app.detectors.backbones import BACKBONES
from inspector_app.detectors.base import (
    checked_images,
    GOOD, Detector, ExportParts, FitReport, Inference, Preprocessing, Progress, TrainingData,
)
from inspector_app.detectors.common.anomaly_maps import upsample_maps
from inspector_app.detectors.metric.scoring import SCORINGS, EmbeddingScorer
from inspector_app.detectors.metric.synthetic import ANOMALY_CLASSES, check_classes, preview, synthetic_set
from inspector_app.detectors.settings import Setting

log = logging.getLogger(__name__)
TRUNK_FILE = "trunk.keras"
NORMAL_FILE = "normal_embeddings.npy"
INFO_FILE = "metric.json"
FORMAT = 1
HEADS = ("l2_softmax", "arcface", "adacos")
#: Good images turned into synthetic anomalies and features at a time (bounds memory).
CHUNK = 16
_ARCFACE = ("head", "arcface")
#: Training-time model from ``benchmarks/training_time_constants.py`` (2 shared CPU cores, load average 5–7,
#: ±2× with load; the mean of two runs, docs/performance.md), per image of the synthetic set (each good image and
#: its anomalies) at 224 px, by measured backbone: seconds to make it and compute its frozen features (once),
#: and seconds per epoch of training the trunk and head on it (with the measured trunk widths below only); each
#: grows with a power of the image size.
S_FEATURES_PER_IMAGE_224 = {"efficientnet_lite0": 0.054}
S_TRUNK_PER_IMAGE_224 = {"efficientnet_lite0": 0.0046}
FEATURES_SIZE_EXPONENT = 1.7
TRUNK_SIZE_EXPONENT = 1.5
MEASURED_TRUNK = {"conv_channels": 128, "embedding_dims": 128}


@dataclass
class TrainingFeatures:
    """Frozen features of the training set: good images (label 0) and their synthetic anomalies (1..K)."""

    features: np.ndarray
    labels: np.ndarray
    seconds: float


class MetricDetector(Detector):
    """Frozen backbone + trained trunk and angular-margin head; embeddings scored against normal ones."""

    kind = "metric"
    title = "Metric learning (synthetic anomalies)"
    description = ("Learns what a good part looks like by telling it from drawn lines, distortions and pasted "
                   "patches; parts whose embedding lies away from the good ones are defects.")
    needs = frozenset({GOOD})
    map_kind = MapKind.EXPLANATION
    settings = {
        "image_size": Setting("Image size (px, a multiple of 16)", main=True, range=(32, 1024, 16)),
        "head": Setting("Head", main=True, choices=HEADS,
                        help="L2-softmax, ArcFace (additive angular margin) or AdaCos (adaptive scale)"),
        "scoring": Setting("Scoring", main=True, choices=SCORINGS,
                           help="lof: local outlier factor; nearest: 1 − best cosine to a good part; "
                                "centre: 1 − cosine to the good parts' mean direction"),
        "epochs": Setting("Epochs", main=True, range=(1, 1000, 1)),
        "backbone": Setting("Backbone", main=True, choices=tuple(BACKBONES)),
        "anomaly_classes": Setting("Synthetic anomaly classes (JSON list of lines, distortion, cutpaste)"),
        "anomalies_per_image": Setting("Synthetic anomalies per good image and class", range=(1, 16, 1)),
        "margin": Setting("ArcFace margin (radians)", depends_on=_ARCFACE),
        "scale": Setting("Scale (L2-softmax and ArcFace)"),
        "lof_neighbours": Setting("LOF neighbours", range=(1, 200, 1), depends_on=("scoring", "lof")),
    }

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "image_size": 224,
            "backbone": "efficientnet_lite0",
            # The best pair on magnetic_tile (benchmarks/metric_heads.py, docs/performance.md).
            "head": "l2_softmax",
            "scoring": "nearest",
            "anomaly_classes": list(ANOMALY_CLASSES),
            "anomalies_per_image": 1,
            "epochs": 15,
            "batch_size": 32,
            "learning_rate": 1e-3,
            "conv_channels": 128,
            "embedding_dims": 128,
            "scale": 16.0,
            "margin": 0.3,
            "lof_neighbours": 20,
            "seed": 0,
            "weights_dir": "",
        }

    @classmethod
    def quick_config(cls) -> dict[str, Any]:
        return {"image_size": 64, "epochs": 2, "batch_size": 16, "conv_channels": 16, "embedding_dims": 16}

    @classmethod
    def estimate_seconds(cls, config: dict[str, Any], images: int, defects: int | None = None) -> float | None:
        """Seconds per epoch of the trunk and head; the feature pass before them is ``estimate_setup_seconds``."""
        config = {**cls.default_config(), **config}
        per_image = S_TRUNK_PER_IMAGE_224.get(str(config["backbone"]))
        count = cls._synthetic_set_size(config, images)
        if per_image is None or any(int(config[key]) != value for key, value in MEASURED_TRUNK.items()):
            return None  # not measured
        return None if count is None else count * per_image * cls._size_factor(config, TRUNK_SIZE_EXPONENT)

    @classmethod
    def estimate_setup_seconds(cls, config: dict[str, Any], images: int) -> float:
        """The synthetic set's making and its frozen features, once before the first epoch (0 when not measured)."""
        config = {**cls.default_config(), **config}
        per_image = S_FEATURES_PER_IMAGE_224.get(str(config["backbone"]), 0.0)
        count = cls._synthetic_set_size(config, images) or 0
        return count * per_image * cls._size_factor(config, FEATURES_SIZE_EXPONENT)

    @staticmethod
    def _synthetic_set_size(config: dict[str, Any], images: int) -> int | None:
        """Each good image and ``anomalies_per_image`` anomalies of each class made from it (``synthetic_set``);
        None for a class list the run would refuse (being typed in the wizard)."""
        try:
            classes = check_classes(config["anomaly_classes"])
        except (TypeError, ValueError):
            return None
        return images * (1 + int(config["anomalies_per_image"]) * len(classes))

    @staticmethod
    def _size_factor(config: dict[str, Any], exponent: float) -> float:
        return (float(config["image_size"]) / 224) ** exponent

    @classmethod
    def synthetic_preview(cls, good: list[np.ndarray], config: dict[str, Any], seed: int = 0) -> dict[str, list]:
        """For the wizard (no TensorFlow): the good images and one synthetic anomaly of each class per image,
        placed by the difference from these images' mean."""
        config = {**cls.default_config(), **config}
        mean = np.mean(np.stack(good).astype(np.float32), axis=0) if len(good) > 1 else None
        return preview(good, config["anomaly_classes"], seed, mean)

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._classes = check_classes(self.config["anomaly_classes"])
        if self.config["head"] not in HEADS:
            msg = f"unknown head {self.config['head']!r}; known: {', '.join(HEADS)}"
            raise ValueError(msg)
        if self.config["head"] == "adacos" and len(self._classes) < 2:
            msg = ("metric: the AdaCos head needs at least two synthetic anomaly classes (its starting scale "
                   f"√2·ln(classes − 1) is zero with one); got {list(self._classes)}")
            raise ValueError(msg)
        if self.config["scoring"] not in SCORINGS:
            msg = f"unknown scoring {self.config['scoring']!r}; known: {', '.join(SCORINGS)}"
            raise ValueError(msg)
        if self.image_size % 16:
            msg = f"metric: image_size must be a multiple of 16, got {self.image_size}"
            raise ValueError(msg)
        self._features_model: Any = None
        self._network: Any = None
        self._normal: np.ndarray | None = None
        self._scorer: EmbeddingScorer | None = None

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, data: TrainingData, progress: Progress) -> FitReport:
        return self.fit_features(self.training_features(np.asarray(data.good), progress), progress)

    def training_features(self, good: np.ndarray, progress: Progress) -> TrainingFeatures:
        """Frozen features of every good image and of its synthetic anomalies (the same for every head, so a
        comparison of heads can compute them once)."""
        if len(good) < 2:
            msg = f"metric learning needs at least two good images to fit, got {len(good)}"
            raise ValueError(msg)
        started = time.monotonic()
        good = self._resized(good)
        mean_image = good.mean(axis=0, dtype=np.float32)
        features_model = self._ensure_features()
        from inspector_app.detectors.common import runtime  # noqa: PLC0415 - TensorFlow

        tf = runtime.tensorflow()
        spec = tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.float32)
        extract = tf.function(lambda x: features_model(x, training=False), input_signature=[spec])
        chunks, labels = [], []
        per_image = int(self.config["anomalies_per_image"])
        for start in range(0, len(good), CHUNK):
            if progress.should_stop():
                raise TrainingCancelled("training cancelled while making synthetic anomalies")
            images, chunk_labels = synthetic_set(good[start : start + CHUNK], self._classes, per_image,
                                                 seed=int(self.config["seed"]) * 100003 + start, mean_image=mean_image)
            for i in range(0, len(images), CHUNK):
                chunks.append(extract(images[i : i + CHUNK].astype(np.float32)).numpy())
            labels.append(chunk_labels)
            done = min(start + CHUNK, len(good))
            progress(stage="features", fraction=done / len(good),
                     message=f"synthetic anomalies and features of {done}/{len(good)} good images")
        return TrainingFeatures(np.concatenate(chunks), np.concatenate(labels), time.monotonic() - started)

    def fit_features(self, training: TrainingFeatures, progress: Progress) -> FitReport:
        """Train the trunk and head on ``training`` and keep the good images' embeddings for scoring."""
        from inspector_app.detectors.common import runtime  # noqa: PLC0415 - TensorFlow
        from inspector_app.detectors.metric.heads import make_head  # noqa: PLC0415
        from inspector_app.detectors.metric.network import MetricNetwork, build_trunk  # noqa: PLC0415

        keras = runtime.keras()
        c = self.config
        keras.utils.set_random_seed(int(c["seed"]))
        started = time.monotonic()
        classes = 1 + len(self._classes)
        head = make_head(str(c["head"]), classes, float(c["scale"]), float(c["margin"]))
        trunk = build_trunk(training.features.shape[1:], int(c["conv_channels"]), int(c["embedding_dims"]), head)
        network = MetricNetwork(self._ensure_features(), trunk, self.image_size)
        step = network.make_train_step(keras.optimizers.Adam(float(c["learning_rate"])))
        counts = np.bincount(training.labels, minlength=classes).astype(np.float32)
        # Each class weighs the same in the loss, however many synthetic samples it has.
        sample_weights = (len(training.labels) / (classes * np.maximum(counts, 1)))[training.labels].astype(np.float32)
        rng = np.random.default_rng(int(c["seed"]))
        epochs, batch = int(c["epochs"]), int(c["batch_size"])
        history: dict[str, list[float]] = {"loss": []}
        progress(stage="train", epoch=0, epochs=epochs, message="training started")
        for epoch in range(epochs):
            order = rng.permutation(len(training.labels))
            losses = []
            for start in range(0, len(order), batch):
                if progress.should_stop():
                    raise TrainingCancelled("training cancelled by the user")
                rows = np.sort(order[start : start + batch])
                losses.append(float(step(training.features[rows], training.labels[rows], sample_weights[rows])))
            history["loss"].append(float(np.mean(losses)))
            elapsed = time.monotonic() - started
            progress(stage="train", epoch=epoch + 1, epochs=epochs, loss=history["loss"][-1],
                     seconds=round(elapsed, 2), eta=round(elapsed / (epoch + 1) * (epochs - epoch - 1), 1))
        self._network = network
        normal = training.features[training.labels == 0]
        self._set_normal(np.concatenate([network.embed_and_explain(normal[i : i + CHUNK])[0]
                                         for i in range(0, len(normal), CHUNK)]))
        seconds = time.monotonic() - started
        details = {"train_images": int(len(normal)), "synthetic_images": int(len(training.labels) - len(normal)),
                   "classes": ["normal", *self._classes], "feature_seconds": round(training.seconds, 2),
                   "train_seconds": round(seconds, 2)}
        if c["head"] == "adacos":
            details["adacos_scale"] = float(network.head.scale.numpy())
        progress(stage="done", fraction=1.0, message=f"trained on {len(training.labels)} images")
        log.info("metric fitted: %s", details)
        return FitReport(epochs, history, seconds + training.seconds, details)

    def out_of_fold_scores(self, good: np.ndarray, progress: Progress) -> np.ndarray | None:
        """None: the trunk learned from every training image (scoring one without its own embedding would still
        use a network fitted to it), so the threshold rests on the held-out good images alone."""
        return None

    def _ensure_features(self) -> Any:
        if self._features_model is None:
            from inspector_app.detectors.metric.network import build_features  # noqa: PLC0415 - TensorFlow

            self._features_model = build_features(str(self.config["backbone"]), self.image_size,
                                                  str(self.config["weights_dir"]))
        return self._features_model

    def _set_normal(self, embeddings: np.ndarray) -> None:
        self._normal = np.ascontiguousarray(embeddings, np.float32)
        self._scorer = EmbeddingScorer(str(self.config["scoring"]), self._normal, int(self.config["lof_neighbours"]))

    # -- inference ------------------------------------------------------------------------------------------
    def _resized(self, images: np.ndarray) -> np.ndarray:
        """uint8 N×H×W×3 → uint8 N×S×S×3 (area interpolation, as the dataset loader does)."""
        images = checked_images(images, "metric learning")
        size = self.image_size
        if images.shape[1:3] == (size, size):
            return images
        return np.stack([resize(im, size) for im in images]) if len(images) else np.zeros((0, size, size, 3), np.uint8)

    def _prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 N×H×W×3 → float32 N×S×S×3 in 0..255 (the backbone scales its own input)."""
        return self._resized(images).astype(np.float32)

    def embed(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (N×D, not normalised) and Grad-CAM maps at the feature grid of uint8 images."""
        if self._network is None or self._scorer is None:
            msg = "metric learning has no trained network: fit or load it first"
            raise RuntimeError(msg)
        return self._network.embed_and_explain(self._network.features(self._prepare(images)))

    def infer(self, images: np.ndarray) -> Inference:
        images = np.asarray(images)
        embeddings, cams = self.embed(images)
        if len(images) == 0:
            return Inference(np.zeros(0, np.float32), np.zeros(images.shape[:3], np.float32))
        scores = self._scorer.scores(embeddings)
        return Inference(scores, upsample_maps(cams.astype(np.float32), images.shape[1], images.shape[2]))

    def preprocessing(self) -> Preprocessing:
        return Preprocessing((self.image_size, self.image_size), "RGB", "0..255")

    def networks(self) -> dict[str, Any]:
        """The frozen feature model and the trunk (``[last_conv, embedding, logits]``); scoring the embedding
        is numpy/scikit-learn (:mod:`.scoring`) on the saved normal embeddings, Grad-CAM is two lines of
        gradient arithmetic (:mod:`.network`)."""
        found = {"features": self._ensure_features()}
        if self._network is not None:
            found["trunk"] = self._network.trunk
        return found

    def export_parts(self) -> ExportParts:
        """One network from the image to the embedding (frozen features, then the trunk), and the scoring of
        :mod:`.scoring` in numpy on the saved unit-length normal embeddings. The Grad-CAM map is not exported:
        it needs the trunk's gradients, which TFLite cannot run; the verdict rests on the score alone."""
        if self._network is None or self._scorer is None:
            msg = "metric learning has no trained network to export: fit or load it first"
            raise RuntimeError(msg)
        features, trunk = self._ensure_features(), self._network.trunk

        def embedding(x: Any) -> Any:
            return trunk(features(x, training=False), training=False)[1]  # [last_conv, embedding, logits]

        scorer = self._scorer
        steps: list[dict[str, Any]] = [
            {"op": "network", "network": "embedding", "input": "input", "output": "embedding"},
            {"op": "unit_rows", "input": "embedding", "output": "unit"},
        ]
        if scorer.method == "lof":
            arrays = {"normal_embeddings": scorer.normal}
            neighbours = max(1, min(int(self.config["lof_neighbours"]), len(scorer.normal) - 1))
            steps.append({"op": "local_outlier_factor", "input": "unit", "normal": "normal_embeddings",
                          "neighbours": neighbours, "output": "score"})
        elif scorer.method == "nearest":
            arrays = {"normal_embeddings": scorer.normal}
            steps.append({"op": "cosine_distance", "input": "unit", "to": "normal_embeddings", "output": "score"})
        else:
            arrays = {"normal_centre": scorer.centre[None]}
            steps.append({"op": "cosine_distance", "input": "unit", "to": "normal_centre", "output": "score"})
        steps.append({"op": "score_value", "input": "score", "map": None,
                      "note": "the Grad-CAM map needs gradients and is not exported; the score is"})
        size = self.image_size
        return ExportParts({"embedding": embedding}, {"embedding": (size, size, 3)}, arrays, steps, size)

    # -- files ----------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        if self._network is None or self._normal is None:
            msg = "nothing to save: the metric model has not been fitted"
            raise RuntimeError(msg)
        folder = Path(folder)
        self._network.trunk.save(folder / TRUNK_FILE)
        np.save(folder / NORMAL_FILE, self._normal, allow_pickle=False)
        info = {"format": FORMAT, "classes": ["normal", *self._classes], "normal_count": int(len(self._normal)),
                "embedding_dims": int(self._normal.shape[1]), "config": self.config}
        (folder / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> MetricDetector:
        from inspector_app.detectors.common.model_files import load_array, load_keras_model  # noqa: PLC0415
        from inspector_app.detectors.metric import heads  # noqa: F401, PLC0415 - registers the head layers
        from inspector_app.detectors.metric.network import MetricNetwork  # noqa: PLC0415

        folder = Path(folder)
        info = json.loads((folder / INFO_FILE).read_text(encoding="utf-8"))
        if info.get("format") != FORMAT:
            msg = f"{folder}: metric model format {info.get('format')!r} is not supported (expected {FORMAT})"
            raise ValueError(msg)
        detector = cls(config)
        trunk = load_keras_model(folder, TRUNK_FILE)
        normal = load_array(folder, NORMAL_FILE, (None, int(info["embedding_dims"])))
        detector._network = MetricNetwork(detector._ensure_features(), trunk, detector.image_size)
        detector._set_normal(normal)
        return detector
