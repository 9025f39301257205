"""Editors for a family's settings, chosen from each default value's type, so a new family needs no GUI code.

The common settings get a friendly label and range; any other key (a family added later, or one being written
now) still gets a working editor from its type: a check box, a number box, a text field.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QLocale
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

#: Settings shown in the main section, in this order, when the family has them; the rest go under Advanced.
MAIN_KEYS = ("image_size", "tile_size", "epochs", "batch_size", "learning_rate", "input_space", "backbone",
             "augment", "early_stopping")
LABELS = {
    "image_size": "Image size (px)",
    "epochs": "Epochs",
    "batch_size": "Batch size",
    "learning_rate": "Learning rate",
    "input_space": "Learn from (pixels, or pretrained features)",
    "backbone": "Backbone",
    "augment": "Augmentation (flips, brightness)",
    "early_stopping": "Early stopping (patience in epochs, 0 = off)",
    "tile_size": "Tile size (px, 0 = no tiling)",
    "tile_overlap": "Tile overlap (fraction)",
    "coreset_fraction": "Patches remembered (fraction kept by the coreset)",
    "neighbourhood": "Patch neighbourhood (feature cells averaged, n×n)",
    "smoothing_sigma": "Map smoothing (Gaussian sigma, px)",
    "layers": "Backbone taps (JSON list, shallower first)",
}
#: Settings with a known set of values get a drop-down (still editable, for values added later).
CHOICES = {"input_space": ("pixels", "features"), "map_metric": ("l2", "ssim", "ssim+l2")}
#: Settings that only matter when another setting has a given value (greyed out otherwise).
DEPENDS_ON = {"backbone": ("input_space", "features"), "feature_bottleneck": ("input_space", "features")}
EDITOR_WIDTH = 200
INT_RANGES = {"image_size": (16, 8192, 16), "epochs": (1, 10000, 1), "batch_size": (1, 4096, 1),
              "early_stopping": (0, 1000, 1), "tile_size": (0, 2048, 16)}


def label_for(key: str) -> str:
    """The label shown for a setting: a friendly one, or the key made readable."""
    return LABELS.get(key, key.replace("_", " ").capitalize())


def backbone_choices() -> list[str]:
    """Backbones the patch families can use (listing them imports no TensorFlow)."""
    try:
        from inspector_app.detectors.backbones import BACKBONES  # noqa: PLC0415
    except ImportError:
        return []
    return list(BACKBONES)


@dataclass
class Editor:
    """One setting's widget with typed access and a change callback hook."""

    key: str
    widget: QWidget
    get: Callable[[], Any]
    set: Callable[[Any], None]


def make_editor(key: str, default: Any, on_change: Callable[[], None]) -> Editor:
    """An editor for ``key`` whose kind follows the type of ``default``."""
    editor = _editor(key, default, on_change)
    if not isinstance(editor.widget, QCheckBox):
        editor.widget.setMinimumWidth(EDITOR_WIDTH)
    return editor


def _editor(key: str, default: Any, on_change: Callable[[], None]) -> Editor:
    if isinstance(default, bool):
        box = QCheckBox()
        box.toggled.connect(lambda _=False: on_change())
        return Editor(key, box, box.isChecked, lambda v: box.setChecked(bool(v)))
    if isinstance(default, int):
        spin = QSpinBox()
        low, high, step = INT_RANGES.get(key, (-1_000_000, 1_000_000, 1))
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.valueChanged.connect(lambda _=0: on_change())
        return Editor(key, spin, spin.value, lambda v: spin.setValue(int(v)))
    if isinstance(default, str) and (key == "backbone" or key in CHOICES):
        combo = QComboBox()
        combo.setEditable(True)
        options = list(CHOICES.get(key, ())) or backbone_choices()
        combo.addItems(options if default in options else [default, *options])
        combo.currentTextChanged.connect(lambda _="": on_change())
        return Editor(key, combo, combo.currentText, lambda v: combo.setCurrentText(str(v)))
    edit = QLineEdit()
    if isinstance(default, float):
        validator = QDoubleValidator(edit)
        validator.setLocale(QLocale.c())  # '5e-4' and '0.001' whatever the desktop's language
        edit.setValidator(validator)
        edit.textChanged.connect(lambda _="": on_change())
        return Editor(key, edit, lambda: _as_float(edit.text(), default), lambda v: edit.setText(f"{float(v):g}"))
    if isinstance(default, str):
        edit.textChanged.connect(lambda _="": on_change())
        return Editor(key, edit, edit.text, lambda v: edit.setText(str(v)))
    edit.setToolTip("JSON value")
    edit.textChanged.connect(lambda _="": on_change())
    return Editor(key, edit, lambda: _as_json(edit.text(), default), lambda v: edit.setText(json.dumps(v)))


def _as_float(text: str, default: float) -> float:
    try:
        value = float(text)
    except ValueError:
        return default
    return value if math.isfinite(value) else default


def _as_json(text: str, default: Any) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return default
