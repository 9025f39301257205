"""The CAM classifier's network: one Keras model from an RGB image (0..255) to the defect probability and the
class-activation map, so an export can save it whole.

The recipe is Zhou et al.'s class-activation mapping: a pretrained CNN's last convolutional features, global
average pooling, one dense softmax layer over {good, defect}. Because pooling and the dense layer are both
linear, weighting every location's features by the defect class's dense weights gives a map whose average is
the defect logit less its bias: the map says how much each place contributed to "defect". It is computed here
by a 1×1 convolution that holds a copy of that weight column (``sync_cam_weights``), and upsampled to the input
by a Resizing layer: only built-in layers, so the file loads in Keras safe mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.detectors.backbones import efficientnet_lite
from inspector_app.detectors.backbones.extractors import BackboneWeightsMissing, weight_folders
from inspector_app.detectors.common import runtime

GOOD_CLASS, DEFECT_CLASS = 0, 1
CLASSIFIER = "classifier"
CAM_LAYER = "class_activation"
VGG16_WEIGHTS = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
#: BGR ImageNet means subtracted by VGG16's own ("caffe") preprocessing.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class CamBackbone:
    """A pretrained trunk: its last convolutional layer, and the layers of its last block (the ones fine-tuned)."""

    name: str
    title: str
    last_conv: str
    #: Prefixes of the layer names that form the last block (trainable when fine-tuning).
    last_block: tuple[str, ...]


CAM_BACKBONES: dict[str, CamBackbone] = {
    "efficientnet_lite0": CamBackbone("efficientnet_lite0", "EfficientNet-Lite0 (installed with the app; fastest)",
                                      "head_relu", ("block15_", "head_")),
    "efficientnet_lite2": CamBackbone("efficientnet_lite2", "EfficientNet-Lite2 (installed with the app; slower)",
                                      "head_relu", ("block20_", "head_")),
    "vgg16": CamBackbone("vgg16", "VGG16 (the reference recipe; needs its Keras ImageNet weights)",
                         "block5_conv3", ("block5_",)),
}


def cam_backbone(name: str) -> CamBackbone:
    try:
        return CAM_BACKBONES[name]
    except KeyError:
        msg = f"unknown CAM classifier backbone {name!r}; known: {', '.join(CAM_BACKBONES)}"
        raise ValueError(msg) from None


def find_vgg16_weights(weights_dir: str | None) -> Path:
    """VGG16's ImageNet weights from the Keras cache or ``weights_dir``; never downloads."""
    folders = weight_folders(weights_dir)
    for folder in folders:
        if (folder / VGG16_WEIGHTS).is_file():
            return folder / VGG16_WEIGHTS
    msg = (
        f"VGG16 ImageNet weights not found: looked for {VGG16_WEIGHTS} in {', '.join(str(f) for f in folders)}. "
        "The app never downloads weights: copy that file (from the Keras applications weights, fetched on a "
        "connected machine) into one of these folders or name its folder in the 'weights_dir' setting, or use the "
        "'efficientnet_lite0' backbone, whose weights install with the app."
    )
    raise BackboneWeightsMissing(msg)


def build_trunk(backbone: CamBackbone, weights_dir: str | None = None, load_weights: bool = True) -> Any:
    """The pretrained network from RGB 0..255 to its last convolutional features (input scaling built in).

    Only the last block is trainable; every BatchNorm stays frozen (inference mode), so small fine-tuning
    batches cannot spoil the ImageNet statistics.
    """
    keras = runtime.keras()
    if backbone.name.startswith("efficientnet_lite"):
        variant = efficientnet_lite.lite_variant(backbone.name)
        if load_weights:
            full = efficientnet_lite.load_efficientnet_lite(variant, include_top=True)
        else:
            full = efficientnet_lite.build_efficientnet_lite(variant, include_top=True)
        trunk = keras.Model(full.input, full.get_layer(backbone.last_conv).output, name=f"{backbone.name}_trunk")
    else:
        path = find_vgg16_weights(weights_dir) if load_weights else None
        inputs = keras.Input((None, None, 3), name="image")
        # VGG16's "caffe" scaling as one fixed 1×1 convolution: RGB → BGR minus the ImageNet mean.
        swap = keras.layers.Conv2D(3, 1, name="preprocess", trainable=False)
        scaled = swap(inputs)
        kernel = np.zeros((1, 1, 3, 3), np.float32)
        for out_channel, in_channel in enumerate((2, 1, 0)):
            kernel[0, 0, in_channel, out_channel] = 1.0
        swap.set_weights([kernel, -np.asarray(CAFFE_MEAN_BGR, np.float32)])
        vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
        if path is not None:
            vgg.load_weights(str(path))
        features = keras.Model(vgg.input, vgg.get_layer(backbone.last_conv).output, name="vgg16_features")
        trunk = keras.Model(inputs, features(scaled), name="vgg16_trunk")
    _freeze_all_but_last_block(trunk, backbone.last_block)
    return trunk


def _freeze_all_but_last_block(model: Any, last_block: tuple[str, ...]) -> None:
    keras = runtime.keras()
    for layer in _all_layers(model):
        if isinstance(layer, keras.Model):
            continue
        in_last = layer.name.startswith(last_block) and layer.name != "preprocess"
        layer.trainable = in_last and not isinstance(layer, keras.layers.BatchNormalization)


def _all_layers(model: Any) -> list[Any]:
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_all_layers(layer))
    return found


def build_cam_classifier(trunk: Any, image_size: int, dropout: float = 0.0) -> Any:
    """image (N×S×S×3, 0..255) → [defect probability (N×1), class-activation map (N×S×S×1)].

    The dense softmax sees the globally pooled features; the map layer holds a copy of its defect column (set
    by :func:`sync_cam_weights` after training), applied at every location before pooling.
    """
    keras = runtime.keras()
    inputs = keras.Input((image_size, image_size, 3), name="image")
    features = trunk(inputs)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    if dropout > 0:
        pooled = keras.layers.Dropout(dropout, name="dropout")(pooled)
    probabilities = keras.layers.Dense(2, activation="softmax", name=CLASSIFIER)(pooled)
    # Picks the defect column of the softmax with fixed weights, so the model's first output is the score.
    pick = keras.layers.Dense(1, use_bias=False, trainable=False, name="defect_probability")
    score = pick(probabilities)
    pick.set_weights([np.array([[0.0], [1.0]], np.float32)])
    cam = keras.layers.Conv2D(1, 1, use_bias=False, trainable=False, name=CAM_LAYER)(features)
    cam = keras.layers.Resizing(image_size, image_size, interpolation="bilinear", name="cam_to_input")(cam)
    return keras.Model(inputs, [score, cam], name="cam_classifier")


def sync_cam_weights(model: Any) -> None:
    """Copy the dense layer's defect-class weights into the map layer (call after every change of weights)."""
    kernel, _bias = model.get_layer(CLASSIFIER).get_weights()
    model.get_layer(CAM_LAYER).set_weights([kernel[:, DEFECT_CLASS].reshape(1, 1, -1, 1).astype(np.float32)])


def training_model(model: Any) -> Any:
    """The same layers with the softmax as the only output, for fitting with a categorical loss."""
    keras = runtime.keras()
    return keras.Model(model.input, model.get_layer(CLASSIFIER).output, name="cam_classifier_training")
