"""Segmentation losses of the U-Net family, registered with Keras so a compiled model loads in safe mode.

Both are computed over the whole batch rather than per image: most training images of an inspection line are
good (empty masks), and a per-image Dice on an empty mask is either undefined or, smoothed, a loss that
punishes a single faint pixel as hard as a missed defect. Importing this module imports Keras, so the
detector imports it only when it trains or loads.
"""

from __future__ import annotations

from typing import Any

from inspector_app.detectors.common import runtime

keras = runtime.keras()
ops = keras.ops
#: Probabilities are clipped this far from 0 and 1 before the logarithm of the cross-entropy.
EPSILON = 1e-7


def soft_dice(y_true: Any, y_pred: Any, smooth: float = 1.0) -> Any:
    """(2·Σ y·p + s) / (Σ y + Σ p + s) over every pixel of the batch: 1 for a perfect mask, near 0 for none."""
    y_true = ops.cast(y_true, y_pred.dtype)
    overlap = ops.sum(y_true * y_pred)
    return (2.0 * overlap + smooth) / (ops.sum(y_true) + ops.sum(y_pred) + smooth)


def binary_cross_entropy(y_true: Any, y_pred: Any) -> Any:
    """Mean over every pixel of −(y·log p + (1 − y)·log(1 − p)), p clipped to [EPSILON, 1 − EPSILON]."""
    y_true = ops.cast(y_true, y_pred.dtype)
    p = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return -ops.mean(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))


@keras.saving.register_keras_serializable(package="inspector_app", name="DiceLoss")
class DiceLoss(keras.losses.Loss):
    """1 − soft Dice: rewards overlap with the defect however small it is against the background."""

    def __init__(self, smooth: float = 1.0, name: str = "dice_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.smooth = float(smooth)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return 1.0 - soft_dice(y_true, y_pred, self.smooth)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="inspector_app", name="BceDiceLoss")
class BceDiceLoss(keras.losses.Loss):
    """``bce_weight`` × binary cross-entropy + (1 − soft Dice): the cross-entropy gives every pixel a gradient
    from the first step, the Dice term keeps small defects from drowning in the background."""

    def __init__(self, bce_weight: float = 1.0, smooth: float = 1.0, name: str = "bce_dice_loss",
                 **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.bce_weight = float(bce_weight)
        self.smooth = float(smooth)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return self.bce_weight * binary_cross_entropy(y_true, y_pred) + 1.0 - soft_dice(y_true, y_pred, self.smooth)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "bce_weight": self.bce_weight, "smooth": self.smooth}
