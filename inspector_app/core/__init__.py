"""Core layer: images, datasets, frame sources, stores and metrics. Imports neither Qt nor TensorFlow."""
