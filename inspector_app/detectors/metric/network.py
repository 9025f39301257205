"""The TensorFlow part of the metric family: frozen pretrained features, the trainable trunk, Grad-CAM.

Two Keras models, both exportable:

- ``features`` (frozen): RGB 0..255 (N×S×S×3) → the backbone's stride-8 map average-pooled to stride 16 and
  concatenated with its stride-16 map (N×S/16×S/16×C). It is never trained, so training computes it once
  per image and trains the trunk on the stored maps: on a shared 2-core CPU that is the difference between
  minutes and hours.
- ``trunk`` (trained): those maps → a 1×1 and a 3×3 convolution block (``last_conv``, where Grad-CAM looks),
  global average pooling, the ``embedding`` dense layer and the head's ``scale · cosine`` logits.
  Outputs ``[last_conv, embedding, logits]``.

The Grad-CAM target is the "not normal" direction: log-sum-exp of the anomaly logits minus the normal logit.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from inspector_app.detectors.backbones import build_feature_extractor
from inspector_app.detectors.common import runtime

log = logging.getLogger(__name__)
#: The feature map's stride: image sizes must be a multiple of it.
STRIDE = 16


def build_features(backbone: str, image_size: int, weights_dir: str = "") -> Any:
    """The frozen feature model (see the module docstring)."""
    keras = runtime.keras()
    extractor = build_feature_extractor(backbone, ("stride8", "stride16"), weights_dir or None)
    extractor.trainable = False
    inputs = keras.Input((image_size, image_size, 3), name="rgb")
    shallow, deep = extractor(inputs, training=False)
    pooled = keras.layers.AveragePooling2D(2, name="shallow_to_stride16")(shallow)
    outputs = keras.layers.Concatenate(name="features")([pooled, deep])
    return keras.Model(inputs, outputs, name=f"{backbone}_metric_features")


def build_trunk(feature_shape: tuple[int, int, int], conv_channels: int, embedding_dims: int, head: Any) -> Any:
    """The trainable trunk on top of ``feature_shape`` maps, ending in ``head`` (see :mod:`.heads`)."""
    keras = runtime.keras()
    inputs = keras.Input(feature_shape, name="features")
    x = keras.layers.Conv2D(conv_channels, 1, use_bias=False, name="reduce")(inputs)
    x = keras.layers.BatchNormalization(name="reduce_bn")(x)
    x = keras.layers.ReLU(name="reduce_relu")(x)
    x = keras.layers.Conv2D(conv_channels, 3, padding="same", use_bias=False, name="last_conv_conv")(x)
    x = keras.layers.BatchNormalization(name="last_conv_bn")(x)
    conv = keras.layers.ReLU(name="last_conv")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(conv)
    embedding = keras.layers.Dense(embedding_dims, name="embedding")(pooled)
    logits = head(embedding)
    return keras.Model(inputs, [conv, embedding, logits], name="metric_trunk")


class MetricNetwork:
    """Feature extraction, training steps and Grad-CAM inference as fixed-signature ``tf.function`` graphs."""

    def __init__(self, features: Any, trunk: Any, image_size: int) -> None:
        tf = runtime.tensorflow()
        self.features_model = features
        self.trunk = trunk
        self.image_size = int(image_size)
        image_spec = tf.TensorSpec([None, image_size, image_size, 3], tf.float32)
        feature_spec = tf.TensorSpec([None, *trunk.input.shape[1:]], tf.float32)
        self._features_fn = tf.function(lambda x: features(x, training=False), input_signature=[image_spec])
        self._explain_fn = tf.function(self._explain_graph, input_signature=[feature_spec])

    @property
    def head(self) -> Any:
        return self.trunk.get_layer("head")

    def features(self, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """Frozen feature maps of float32 RGB 0..255 images at the network's size."""
        out = [self._features_fn(images[i : i + batch_size]).numpy() for i in range(0, len(images), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, *self.trunk.input.shape[1:]), np.float32)

    def _explain_graph(self, features: Any) -> tuple[Any, Any]:
        tf = runtime.tensorflow()
        with tf.GradientTape() as tape:
            tape.watch(features)
            conv, embedding, logits = self.trunk(features, training=False)
            not_normal = tf.reduce_logsumexp(logits[:, 1:], axis=1) - logits[:, 0]
        gradients = tape.gradient(not_normal, conv)
        weights = tf.reduce_mean(gradients, axis=[1, 2], keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * conv, axis=-1))
        return embedding, cam

    def embed_and_explain(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (N×D, not normalised) and Grad-CAM maps at the feature grid (N×h×w) of feature maps."""
        embedding, cam = self._explain_fn(np.asarray(features, np.float32))
        return embedding.numpy(), cam.numpy()

    def make_train_step(self, optimizer: Any) -> Any:
        """One optimisation step on a batch of features: margin-aware cross-entropy, class-balanced weights."""
        tf = runtime.tensorflow()
        trunk, head = self.trunk, self.head
        variables = trunk.trainable_variables

        def step(features: Any, labels: Any, weights: Any) -> Any:
            with tf.GradientTape() as tape:
                _, embedding, _ = trunk(features, training=True)
                logits = head(embedding, labels=labels)
                losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
                loss = tf.reduce_sum(losses * weights) / tf.reduce_sum(weights)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
            return loss

        return tf.function(step)
