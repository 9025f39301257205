"""The U-Net network (Keras functional API, named layers, no Lambda layers): RGB 0..255 tile → defect probability.

Encoder of paired 3×3 ELU convolutions with max pooling, filters doubling from ``base_filters`` (8 → 128 with
the defaults), a mirrored decoder of transposed convolutions whose every level is concatenated with the
encoder's features at the same resolution (the skip connections that give a U-Net its sharp outlines), and a
1×1 sigmoid convolution. The scaling to 0..1 is a layer of the network, so an exported model takes the
camera's pixels as they are.
"""

from __future__ import annotations

from typing import Any

from inspector_app.detectors.common import runtime

MASK_OUTPUT = "mask"
PEAK_OUTPUT = "max_probability"


def build_unet(tile: int, base_filters: int = 8, depth: int = 4, dropout: float = 0.1) -> tuple[Any, Any]:
    """The network twice over the same layers: (training model → mask, inference model → mask and peak).

    The inference model's second output is each tile's largest probability (a global max pooling), so the
    ``max_probability`` score needs no code outside the network.

    Raises:
        ValueError: ``tile`` is not a multiple of 2**depth (each pooling halves it).
    """
    keras = runtime.keras()
    layers = keras.layers
    if tile % 2**depth or tile < 2**depth:
        msg = f"U-Net tile size must be a positive multiple of {2**depth} (depth {depth}), got {tile}"
        raise ValueError(msg)
    inputs = keras.Input((tile, tile, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit_range")(inputs)
    skips = []
    for level in range(depth):
        x = _conv_pair(layers, x, base_filters * 2**level, dropout, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
    x = _conv_pair(layers, x, base_filters * 2**depth, dropout, "bottom")
    for level in reversed(range(depth)):
        filters = base_filters * 2**level
        x = layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"up{level}_deconv")(x)
        x = layers.Concatenate(name=f"up{level}_skip")([x, skips[level]])
        x = _conv_pair(layers, x, filters, dropout, f"up{level}")
    mask = layers.Conv2D(1, 1, activation="sigmoid", name=MASK_OUTPUT)(x)
    peak = layers.GlobalMaxPooling2D(name=PEAK_OUTPUT)(mask)
    training = keras.Model(inputs, mask, name="unet_training")
    inference = keras.Model(inputs, {MASK_OUTPUT: mask, PEAK_OUTPUT: peak}, name="unet")
    return training, inference


def _conv_pair(layers: Any, x: Any, filters: int, dropout: float, name: str) -> Any:
    """Two 3×3 ELU convolutions with dropout between them (the reference recipe's block)."""
    x = layers.Conv2D(filters, 3, padding="same", activation="elu", kernel_initializer="he_normal",
                      name=f"{name}_conv0")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="elu", kernel_initializer="he_normal",
                         name=f"{name}_conv1")(x)
