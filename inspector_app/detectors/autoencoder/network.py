"""The convolutional autoencoder network (Keras functional API, named layers, no Lambda layers)."""

from __future__ import annotations

from typing import Any

from inspector_app.detectors.common import runtime


def build_autoencoder(image_size: int, channels: int, bottleneck: int, base_filters: int = 32) -> Any:
    """Encoder of stride-2 convolutions → dense bottleneck → mirrored decoder; input and output in [0, 1].

    The dense bottleneck (not a wide convolutional one) is what stops the network from copying defects
    through: it can only rebuild what good parts have in common. No batch normalisation: with the few
    hundred steps a small good-image set gives, its moving statistics never settle and inference suffers.
    """
    keras = runtime.keras()
    layers = keras.layers
    depth = 4
    if image_size % (2**depth):
        msg = f"autoencoder image_size must be a multiple of {2**depth}, got {image_size}"
        raise ValueError(msg)
    inputs = keras.Input((image_size, image_size, channels), name="image")
    x = inputs
    filters = [base_filters * m for m in (1, 2, 4, 4)]
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, strides=2, padding="same", name=f"enc_conv{i}")(x)
        x = layers.LeakyReLU(0.1, name=f"enc_act{i}")(x)
    grid = image_size // 2**depth
    x = layers.Flatten(name="enc_flatten")(x)
    code = layers.Dense(bottleneck, name="bottleneck")(x)
    x = layers.Dense(grid * grid * filters[-1], name="dec_dense")(code)
    x = layers.LeakyReLU(0.1, name="dec_dense_act")(x)
    x = layers.Reshape((grid, grid, filters[-1]), name="dec_reshape")(x)
    for i, f in enumerate(reversed(filters)):
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", name=f"dec_deconv{i}")(x)
        x = layers.LeakyReLU(0.1, name=f"dec_act{i}")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="conv_autoencoder")


def build_feature_autoencoder(channels: int, bottleneck: int, hidden: int = 128) -> Any:
    """An autoencoder over pretrained feature vectors, built from 1×1 convolutions.

    Each feature-map position is redrawn from a ``bottleneck``-channel code; it works on maps of any size.
    """
    keras = runtime.keras()
    layers = keras.layers
    inputs = keras.Input((None, None, channels), name="features")
    x = layers.Conv2D(hidden, 1, name="fenc_conv0")(inputs)
    x = layers.LeakyReLU(0.1, name="fenc_act0")(x)
    code = layers.Conv2D(bottleneck, 1, name="fbottleneck")(x)
    x = layers.Conv2D(hidden, 1, name="fdec_conv0")(code)
    x = layers.LeakyReLU(0.1, name="fdec_act0")(x)
    outputs = layers.Conv2D(channels, 1, name="freconstruction")(x)
    return keras.Model(inputs, outputs, name="feature_autoencoder")
