"""inspector_app: an offline visual-inspection workstation (PySide6 + TensorFlow/Keras)."""

__version__ = "0.1.0"
