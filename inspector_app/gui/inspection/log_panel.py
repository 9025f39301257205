"""A dock with timestamped lines (skipped files, lost camera, model loads): one line each, never a dialog."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QPlainTextEdit, QWidget


class LogPanel(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(2000)
        self.setObjectName("logPanel")
        self.setMinimumHeight(36)  # two lines: the dock must not keep a small screen from fitting the window

    def add(self, message: str, level: str = "info") -> None:
        stamp = time.strftime("%H:%M:%S")
        prefix = {"warning": "⚠ ", "error": "✖ "}.get(level, "")
        self.appendPlainText(f"{stamp}  {prefix}{message}")

    def lines(self) -> list[str]:
        return self.toPlainText().splitlines()
