"""Detector layer: the model families behind one interface. TensorFlow is imported lazily, inside methods."""
