"""The review queue's keys: D defect, F false alarm, G good, U undo, arrows to move.

The window already binds F (full screen) and G (capture as good) as window-wide shortcuts. While the focus
is inside the review panel those keys must decide instead, and only there. Qt's answer is the
ShortcutOverride event: before a key can trigger a shortcut, Qt offers it to the focused widget, and a
widget that accepts it receives the key as a plain key press instead. An event filter on the panel and its
children accepts exactly the review keys, so the window's actions stay unchanged and keep working everywhere
else. Text fields keep every key, and widgets that move with arrows themselves (the grid, combo boxes) keep
the arrows.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit, QWidget

DECISION_KEYS = {Qt.Key.Key_D: "defect", Qt.Key.Key_F: "false_alarm", Qt.Key.Key_G: "good"}
MOVE_KEYS = {Qt.Key.Key_Left: -1, Qt.Key.Key_Up: -1, Qt.Key.Key_Right: 1, Qt.Key.Key_Down: 1}
_TEXT_INPUTS = (QLineEdit, QAbstractSpinBox)
_OWN_ARROWS = (QAbstractItemView, QComboBox, QLineEdit, QAbstractSpinBox)


class ReviewKeys(QObject):
    """An event filter that turns the review keys into calls while the focus is inside ``panel``.

    Args:
        panel: the widget whose children (present when ``install`` runs) get the filter.
        decide: called with "defect", "false_alarm" or "good".
        undo: called for U.
        move: called with -1 or +1 for arrows the focused widget does not use itself.
    """

    def __init__(self, panel: QWidget, decide: Callable[[str], None], undo: Callable[[], None],
                 move: Callable[[int], None]) -> None:
        super().__init__(panel)
        self._decide = decide
        self._undo = undo
        self._move = move
        for widget in [panel, *panel.findChildren(QWidget)]:
            widget.installEventFilter(self)

    @staticmethod
    def claims(watched: QObject, event: QKeyEvent) -> bool:
        """Whether the key belongs to the review queue when ``watched`` has the focus."""
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier or isinstance(watched, _TEXT_INPUTS):
            return False
        key = event.key()
        if key in DECISION_KEYS or key == Qt.Key.Key_U:
            return True
        return key in MOVE_KEYS and not isinstance(watched, _OWN_ARROWS)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        """Accept the override for review keys (the window's shortcut then stays quiet) and act on the press."""
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        if not isinstance(event, QKeyEvent) or not self.claims(watched, event):
            return False
        event.accept()
        if kind == QEvent.Type.KeyPress:
            key = event.key()
            if key in DECISION_KEYS:
                self._decide(DECISION_KEYS[key])
            elif key == Qt.Key.Key_U:
                self._undo()
            else:
                self._move(MOVE_KEYS[key])
        return True
