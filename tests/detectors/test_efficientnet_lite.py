"""EfficientNet-Lite0 in Keras: the converted weights mean what the torch file meant.

Each check would catch a specific conversion mistake: a transposed or flipped convolution kernel, a
depthwise kernel with swapped axes, BatchNorm arrays in the wrong order or the wrong epsilon, wrong input
scaling (the classifier then no longer recognises a real photo). The full comparison against PyTorch lives
in ``benchmarks/check_lite_against_torch.py`` (it needs PyTorch, which the app never installs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector_app.detectors.backbones import efficientnet_lite as el
from inspector_app.detectors.backbones.torch_weights import load_state_dict


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray]:
    return load_state_dict(el.package_weights_file())


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[np.ndarray]]:
    return el.imagenet_weights(cache_dir=tmp_path_factory.mktemp("backbones"))


@pytest.fixture(scope="module")
def model(weights: dict[str, list[np.ndarray]]) -> Any:
    return el.load_efficientnet_lite(include_top=True, weights=weights)


def tf_same_pad(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """Zero-pad C×H×W like TensorFlow's "same": the odd extra pixel goes to the bottom/right."""
    pads = []
    for size in x.shape[1:]:
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [(0, 0), *pads])


def torch_conv(x: np.ndarray, weight: np.ndarray, stride: int, groups: int = 1) -> np.ndarray:
    """Direct cross-correlation with a torch-layout kernel (out, in/groups, kh, kw) on C×H×W input."""
    kernel = weight.shape[-1]
    padded = tf_same_pad(x, kernel, stride)
    out_h = -(-x.shape[1] // stride)
    out_w = -(-x.shape[2] // stride)
    per_group_in, per_group_out = x.shape[0] // groups, weight.shape[0] // groups
    out = np.zeros((weight.shape[0], out_h, out_w), np.float64)
    for o in range(weight.shape[0]):
        g = o // per_group_out
        channels = padded[g * per_group_in : (g + 1) * per_group_in]
        for i in range(kernel):
            for j in range(kernel):
                window = channels[:, i : i + stride * out_h : stride, j : j + stride * out_w : stride]
                out[o] += np.tensordot(weight[o, :, i, j], window, axes=1)
    return out


def test_stem_kernel_orientation_matches_a_direct_convolution(model: Any, state: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 9, 10)).astype(np.float32)  # asymmetric, odd and even sizes
    keras_out = model.get_layer("stem_conv")(x.transpose(1, 2, 0)[None]).numpy()[0]
    expected = torch_conv(x, state["_conv_stem.weight"], stride=2).transpose(1, 2, 0)
    np.testing.assert_allclose(keras_out, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("block", "stride"), [(0, 1), (3, 2)])
def test_depthwise_kernel_orientation_matches_a_direct_convolution(
    block: int, stride: int, model: Any, state: dict[str, np.ndarray]
) -> None:
    weight = state[f"_blocks.{block}._depthwise_conv.weight"]
    channels = weight.shape[0]
    x = np.random.default_rng(block).normal(size=(channels, 11, 8)).astype(np.float32)
    keras_out = model.get_layer(f"block{block}_dwconv")(x.transpose(1, 2, 0)[None]).numpy()[0]
    expected = torch_conv(x, weight, stride=stride, groups=channels).transpose(1, 2, 0)
    np.testing.assert_allclose(keras_out, expected, rtol=1e-4, atol=1e-4)


def test_pointwise_and_batchnorm_follow_the_torch_formula(model: Any, state: dict[str, np.ndarray]) -> None:
    x = np.random.default_rng(2).normal(size=(1, 4, 5, 16)).astype(np.float32)
    expanded = model.get_layer("block1_expand_conv")(x).numpy()
    weight = state["_blocks.1._expand_conv.weight"][:, :, 0, 0]  # (out, in)
    np.testing.assert_allclose(expanded, x @ weight.T, rtol=1e-4, atol=1e-4)
    normed = model.get_layer("block1_expand_bn")(expanded, training=False).numpy()
    prefix = "_blocks.1._bn0"
    gamma, beta = state[f"{prefix}.weight"], state[f"{prefix}.bias"]
    mean, var = state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"]
    expected = (expanded - mean) / np.sqrt(var + el.BN_EPSILON) * gamma + beta
    np.testing.assert_allclose(normed, expected, rtol=1e-4, atol=1e-4)


def test_classifies_a_real_photo(model: Any) -> None:
    """End to end (input scaling, every block, the classifier): scikit-learn's sample photo is a palace."""
    from PIL import Image  # noqa: PLC0415
    from sklearn import datasets  # noqa: PLC0415

    photo = Image.open(Path(datasets.__file__).parent / "images" / "china.jpg").convert("RGB")
    width, height = photo.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    photo = photo.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC)
    logits = model(np.asarray(photo, np.float32)[None], training=False).numpy()[0]
    palace, monastery, bell_cote = 698, 663, 442
    assert {palace, monastery, bell_cote} & set(np.argsort(-logits)[:3].tolist())


def test_conversion_is_cached_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = el.imagenet_weights(cache_dir=tmp_path)
    assert (tmp_path / f"{el.LITE0.cache_name}.npz").is_file()
    assert (tmp_path / f"{el.LITE0.cache_name}.json").is_file()
    el._memory_cache.clear()

    def no_reading(path: Any) -> None:
        raise AssertionError("the .pth file was read again although a cache exists")

    monkeypatch.setattr(el, "load_state_dict", no_reading)
    second = el.imagenet_weights(cache_dir=tmp_path)
    assert second.keys() == first.keys()
    for layer, arrays in first.items():
        for a, b in zip(arrays, second[layer], strict=True):
            np.testing.assert_array_equal(a, b)


def test_a_state_dict_missing_a_tensor_is_named(state: dict[str, np.ndarray]) -> None:
    broken = {k: v for k, v in state.items() if k != "_blocks.5._bn1.running_var"}
    with pytest.raises(ValueError, match=r"_blocks\.5\._bn1\.running_var"):
        el.keras_weights_from_torch(broken)


def test_shape_mismatch_is_reported_with_the_layer_name(weights: dict[str, list[np.ndarray]]) -> None:
    network = el.build_efficientnet_lite(include_top=False)
    wrong = dict(weights)
    wrong["stem_conv"] = [weights["stem_conv"][0].transpose(3, 2, 1, 0)]
    with pytest.raises(ValueError, match="stem_conv"):
        el.assign_weights(network, wrong)


@pytest.mark.parametrize(
    ("index", "name"), [(0, "block0_project_bn"), (2, "block2_add"), (3, "block3_project_bn"), (10, "block10_add")]
)
def test_block_output_names(index: int, name: str) -> None:
    assert el.block_output_name(index) == name


def test_batchnorm_folding_keeps_the_outputs(model: Any, weights: dict[str, list[np.ndarray]]) -> None:
    folded = el.load_efficientnet_lite(include_top=True, weights=weights, fold=True)
    assert not any(layer.name.endswith("_bn") for layer in folded.layers)
    x = np.random.default_rng(3).uniform(0, 255, (2, 64, 80, 3)).astype(np.float32)
    np.testing.assert_allclose(folded(x, training=False).numpy(), model(x, training=False).numpy(), atol=1e-3)


# -- EfficientNet-Lite2: Lite0 scaled, with its own weights package ----------------------------------------------

LITE2 = el.VARIANTS["efficientnet_lite2"]


def test_lite2_stages_follow_the_official_scaling() -> None:
    """Channels ×1.1 rounded to multiples of 8, repeats ×1.2 rounded up; first and last stage unscaled."""
    assert el.lite_stages(LITE2) == (
        (1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88),
        (4, 5, 1, 6, 120), (5, 5, 2, 6, 208), (1, 3, 1, 6, 352),
    )
    assert el.lite_stages(el.LITE0) == el.LITE0_STAGES


def test_taps_end_their_stages() -> None:
    assert el.stage_taps(el.LITE0) == {
        "stride4": "block2_add", "stride8": "block4_add", "stride16_80": "block7_add",
        "stride16": "block10_add", "stride32": "block14_add",
    }
    assert el.stage_taps(LITE2) == {
        "stride4": "block3_add", "stride8": "block6_add", "stride16_80": "block10_add",
        "stride16": "block14_add", "stride32": "block19_add",
    }


@pytest.fixture(scope="module")
def lite2_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    weights = el.imagenet_weights(LITE2, cache_dir=tmp_path_factory.mktemp("backbones"))
    return el.load_efficientnet_lite(LITE2, include_top=True, weights=weights)  # every layer's shape is checked


def test_lite2_weights_fill_every_layer_and_classify_a_real_photo(lite2_model: Any) -> None:
    assert len(el.lite_blocks(LITE2)) == 21
    test_classifies_a_real_photo(lite2_model)


def test_a_lite0_file_is_refused_as_lite2(state: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="EfficientNet-Lite2"):
        el.keras_weights_from_torch(state, variant=LITE2)
