"""Classification heads that make the normal class compact on the unit sphere, as registered Keras layers.

Each head turns an embedding into one logit per class (normal first, then each synthetic anomaly class).
All of them compare the L2-normalised embedding with class weights, so what separates classes is an angle:

- ``L2SoftmaxHead`` (Ranjan et al. 2017): the normalised embedding times a fixed scale, then a plain dense
  layer (weights not normalised).
- ``ArcFaceHead`` (Deng et al. 2019): cosine to normalised class weights, with an additive angular margin
  ``m`` on the true class while training, so each class must win by an angle of at least ``m``; the scale
  is fixed. With ``m = 0`` it is a plain normalised softmax (cosine times scale).
- ``AdaCosHead`` (Zhang et al. 2019): cosine to normalised class weights with no margin and a scale that
  sets itself from each training batch (starting at √2·ln(C − 1), so it needs at least three classes).

Called with ``labels`` (training only) a margin head applies its margin and AdaCos updates its scale; called
without, every head returns ``scale · cosine`` logits, which is what the saved network computes. The layers
carry their settings in ``get_config`` and load in Keras safe mode (no Lambda layers, no pickle).
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

PACKAGE = "inspector_app.metric"


def _normalised(x: Any, axis: int) -> Any:
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x), axis=axis, keepdims=True)), 1e-12)


class _CosineHead(keras.layers.Layer):
    """Class weights (dims × classes) and the cosine between the embedding and each of them."""

    def __init__(self, classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.classes = int(classes)

    def build(self, input_shape: Any) -> None:
        self.class_weights = self.add_weight(
            shape=(int(input_shape[-1]), self.classes), initializer="glorot_uniform", name="class_weights"
        )

    def cosine(self, embedding: Any) -> Any:
        return ops.matmul(_normalised(embedding, -1), _normalised(self.class_weights, 0))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "classes": self.classes}


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2SoftmaxHead(_CosineHead):
    """Normalised embedding × ``scale`` through a plain dense layer (no bias)."""

    def __init__(self, classes: int, scale: float = 16.0, **kwargs: Any) -> None:
        super().__init__(classes, **kwargs)
        self.scale = float(scale)

    def call(self, embedding: Any, labels: Any = None) -> Any:
        return self.scale * ops.matmul(_normalised(embedding, -1), self.class_weights)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ArcFaceHead(_CosineHead):
    """``scale · cos(θ + margin)`` for the true class while training, ``scale · cos θ`` otherwise."""

    def __init__(self, classes: int, scale: float = 16.0, margin: float = 0.3, **kwargs: Any) -> None:
        super().__init__(classes, **kwargs)
        self.scale = float(scale)
        self.margin = float(margin)

    def call(self, embedding: Any, labels: Any = None) -> Any:
        cosine = self.cosine(embedding)
        if labels is None:
            return self.scale * cosine
        sine = ops.sqrt(ops.clip(1.0 - ops.square(cosine), 0.0, 1.0))
        shifted = cosine * math.cos(self.margin) - sine * math.sin(self.margin)  # cos(θ + m)
        # Past θ = π − m, cos(θ + m) would rise again: keep the logit falling with θ instead.
        shifted = ops.where(cosine > math.cos(math.pi - self.margin), shifted,
                            cosine - self.margin * math.sin(self.margin))
        target = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), self.classes)
        return self.scale * ops.where(target > 0, shifted, cosine)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "margin": self.margin}


def adacos_initial_scale(classes: int) -> float:
    """AdaCos's fixed scale √2·ln(C − 1); zero for two classes, which is why AdaCos needs three or more."""
    if classes < 3:
        msg = f"AdaCos needs at least three classes (normal and two synthetic anomaly kinds), got {classes}"
        raise ValueError(msg)
    return math.sqrt(2.0) * math.log(classes - 1)


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaCosHead(_CosineHead):
    """``scale · cos θ`` with the scale re-estimated from every training batch (stored as a weight)."""

    def __init__(self, classes: int, **kwargs: Any) -> None:
        super().__init__(classes, **kwargs)
        self.initial_scale = adacos_initial_scale(self.classes)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self.scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(self.initial_scale),
                                     trainable=False, name="scale")

    def call(self, embedding: Any, labels: Any = None) -> Any:
        cosine = self.cosine(embedding)
        if labels is not None:
            self.scale.assign(self._batch_scale(ops.stop_gradient(cosine), labels))
        return self.scale * cosine

    def _batch_scale(self, cosine: Any, labels: Any) -> Any:
        """The scale at which the true class's probability changes fastest near the batch's median angle."""
        target = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), self.classes)
        others = ops.sum(ops.where(target > 0, 0.0, ops.exp(self.scale * cosine)), axis=1)
        mean_others = ops.mean(others)
        angles = ops.arccos(ops.clip(ops.sum(cosine * target, axis=1), -1.0 + 1e-7, 1.0 - 1e-7))
        sorted_angles = ops.sort(angles)
        median = sorted_angles[ops.shape(sorted_angles)[0] // 2]
        return ops.log(mean_others) / ops.cos(ops.minimum(math.pi / 4, median))


def make_head(name: str, classes: int, scale: float, margin: float) -> keras.layers.Layer:
    """The head called ``name`` ("l2_softmax", "arcface" or "adacos") for ``classes`` classes."""
    if name == "l2_softmax":
        return L2SoftmaxHead(classes, scale, name="head")
    if name == "arcface":
        return ArcFaceHead(classes, scale, margin, name="head")
    if name == "adacos":
        return AdaCosHead(classes, name="head")
    msg = f"unknown head {name!r}; known: l2_softmax, arcface, adacos"
    raise ValueError(msg)
