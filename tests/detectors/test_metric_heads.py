"""The metric family's heads: what each computes, ArcFace without margin as a plain normalised softmax,
AdaCos's scale, and a safe-mode save/load of every head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inspector_app.detectors.common import runtime

keras = runtime.keras()
from inspector_app.detectors.metric.heads import (  # noqa: E402 - after TensorFlow is configured
    AdaCosHead, ArcFaceHead, L2SoftmaxHead, adacos_initial_scale, make_head,
)


def _unit(x: np.ndarray, axis: int) -> np.ndarray:
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 6)).astype(np.float32), rng.integers(0, 4, 16).astype(np.int32)


def test_arcface_with_zero_margin_is_a_plain_normalised_softmax(batch: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, labels = batch
    head = ArcFaceHead(4, scale=10.0, margin=0.0)
    trained = keras.ops.convert_to_numpy(head(embeddings, labels=labels))  # the training path, margin applied
    weights = keras.ops.convert_to_numpy(head.class_weights)
    plain = _softmax(10.0 * _unit(embeddings, 1) @ _unit(weights, 0))
    np.testing.assert_allclose(_softmax(trained), plain, rtol=1e-5, atol=1e-6)


def test_a_margin_lowers_only_the_true_class(batch: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, labels = batch
    head = ArcFaceHead(4, scale=10.0, margin=0.3)
    without = keras.ops.convert_to_numpy(head(embeddings))
    trained = keras.ops.convert_to_numpy(head(embeddings, labels=labels))
    true = np.eye(4, dtype=bool)[labels]
    assert (trained[true] < without[true] - 1e-3).all()
    np.testing.assert_allclose(trained[~true], without[~true], rtol=1e-6)


def test_l2_softmax_scales_the_normalised_embedding_through_plain_weights(batch: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, _ = batch
    head = L2SoftmaxHead(4, scale=8.0)
    logits = keras.ops.convert_to_numpy(head(embeddings))
    weights = keras.ops.convert_to_numpy(head.class_weights)
    np.testing.assert_allclose(logits, 8.0 * _unit(embeddings, 1) @ weights, rtol=1e-5, atol=1e-6)


def test_adacos_needs_three_classes_and_sets_its_scale_while_training(batch: tuple[np.ndarray, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="at least three classes"):
        AdaCosHead(2)
    embeddings, labels = batch
    head = AdaCosHead(4)
    head(embeddings)
    assert float(head.scale.numpy()) == pytest.approx(adacos_initial_scale(4)) == pytest.approx(np.sqrt(2) * np.log(3))
    head(embeddings, labels=labels)
    changed = float(head.scale.numpy())
    assert np.isfinite(changed) and changed != pytest.approx(adacos_initial_scale(4))
    logits = keras.ops.convert_to_numpy(head(embeddings))
    cosine = _unit(embeddings, 1) @ _unit(keras.ops.convert_to_numpy(head.class_weights), 0)
    np.testing.assert_allclose(logits, changed * cosine, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["l2_softmax", "arcface", "adacos"])
def test_every_head_saves_and_loads_in_safe_mode(name: str, tmp_path: Path, batch: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, labels = batch
    inputs = keras.Input((6,))
    head = make_head(name, 4, 12.0, 0.2)
    model = keras.Model(inputs, head(keras.layers.Dense(5, name="embedding")(inputs)))
    head(model.get_layer("embedding")(embeddings), labels=labels)  # AdaCos moves its scale off the start
    path = tmp_path / "head.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    assert type(loaded.get_layer("head")) is type(head)
    assert loaded.get_layer("head").get_config() == head.get_config()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(embeddings)),
                                  keras.ops.convert_to_numpy(model(embeddings)))
