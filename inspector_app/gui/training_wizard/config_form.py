"""Editors for a family's settings: the family describes each one (label, choices, range), the default
value's type picks the widget, so a new family needs no GUI code."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QLocale
from PySide6.QtGui import QDoubleValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox, QWidget

from inspector_app.detectors.settings import Setting

EDITOR_WIDTH = 200


@dataclass
class Editor:
    """One setting's widget with typed access and a change callback hook."""

    key: str
    widget: QWidget
    get: Callable[[], Any]
    set: Callable[[Any], None]


def make_editor(key: str, default: Any, setting: Setting, on_change: Callable[[], None]) -> Editor:
    """An editor for ``key`` whose kind follows the type of ``default``, shaped by the family's ``setting``."""
    editor = _editor(key, default, setting, on_change)
    if not isinstance(editor.widget, QCheckBox):
        editor.widget.setMinimumWidth(EDITOR_WIDTH)
    return editor


def _editor(key: str, default: Any, setting: Setting, on_change: Callable[[], None]) -> Editor:
    if isinstance(default, bool):
        box = QCheckBox()
        box.toggled.connect(lambda _=False: on_change())
        return Editor(key, box, box.isChecked, lambda v: box.setChecked(bool(v)))
    if isinstance(default, int):
        spin = QSpinBox()
        low, high, step = setting.range or (-1_000_000, 1_000_000, 1)
        spin.setRange(int(low), int(high))
        spin.setSingleStep(int(step))
        spin.valueChanged.connect(lambda _=0: on_change())
        return Editor(key, spin, spin.value, lambda v: spin.setValue(int(v)))
    if isinstance(default, str) and setting.choices:
        combo = QComboBox()
        combo.setEditable(True)
        options = list(setting.choices)
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
