"""A dialog showing a few good images and the synthetic anomalies a family would make from them, per class.

For families that learn from synthetic anomalies (they offer ``synthetic_preview``, which is numpy/OpenCV and
imports no TensorFlow). Reading the images and drawing the anomalies run in a short-lived thread, so the wizard
never waits on the disk; a result for settings the user has since changed is dropped.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtWidgets import QDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from inspector_app.core.datasets import load_images, open_dataset
from inspector_app.core.errors import InspectorError
from inspector_app.gui.qimage import to_pixmap

log = logging.getLogger(__name__)
#: Good images shown per class, and the side (px) each is drawn at.
COLUMNS = 4
THUMBNAIL = 144


def has_preview(family: type) -> bool:
    """Whether ``family`` makes synthetic anomalies that can be previewed."""
    return callable(getattr(family, "synthetic_preview", None))


class PreviewMaker(QThread):
    """Loads ``COLUMNS`` good images spread over the first dataset and asks the family for its samples."""

    made = Signal(int, object)  # generation, {class name: [uint8 RGB images]}
    failed = Signal(int, str)

    def __init__(self, generation: int, family: type, data: list[str], config: dict[str, Any], seed: int) -> None:
        super().__init__()
        self.generation, self.family, self.data, self.config, self.seed = generation, family, data, config, seed

    def run(self) -> None:
        try:
            good = [s for s in open_dataset(self.data[0]).training_samples() if s.label == "good"]
            if not good:
                self.failed.emit(self.generation, f"{self.data[0]} has no good images to preview")
                return
            chosen = [good[i] for i in np.linspace(0, len(good) - 1, min(COLUMNS, len(good))).astype(int)]
            size = int(min(int(self.config.get("image_size", THUMBNAIL)), 256))
            images, _ = load_images(chosen, size)
            self.made.emit(self.generation, self.family.synthetic_preview(list(images), self.config, self.seed))
        except (InspectorError, ValueError, OSError) as exc:  # bad folder or settings: say so in the dialog
            self.failed.emit(self.generation, str(exc))


class SyntheticPreviewDialog(QDialog):
    """Rows: "normal" and each synthetic class; columns: the same good images."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Synthetic anomalies")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        self.another = QPushButton("Other samples")
        self.another.clicked.connect(self._reseed)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.another)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        intro = QLabel("The network learns to tell good parts (top row) from changes like these, drawn on "
                       "the training images when training starts.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(self.grid)
        layout.addLayout(buttons)
        self._generation = 0
        self._seed = 0
        self._request: tuple[type, list[str], dict[str, Any]] | None = None
        self._makers: list[PreviewMaker] = []

    def show_for(self, family: type, data: list[str], config: dict[str, Any]) -> None:
        """Make and show samples for ``family`` with ``config`` from the good images of ``data``."""
        self._request = (family, list(data), dict(config))
        self._start()

    def _reseed(self) -> None:
        self._seed += 1
        self._start()

    def _start(self) -> None:
        if self._request is None:
            return
        family, data, config = self._request
        if not data:
            self.status.setText("Choose the data first.")
            return
        self._generation += 1
        self.status.setText("Making samples…")
        maker = PreviewMaker(self._generation, family, data, config, self._seed)
        maker.made.connect(self._show)
        maker.failed.connect(self._fail)
        maker.finished.connect(lambda m=maker: self._makers.remove(m))
        self._makers.append(maker)  # kept until it finishes, so Qt never destroys a running thread
        maker.start()

    def _fail(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.status.setText(f"No preview: {message}")

    def _show(self, generation: int, samples: dict[str, list[np.ndarray]]) -> None:
        if generation != self._generation:
            return  # made for settings since changed
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for row, (name, images) in enumerate(samples.items()):
            title = QLabel(name)
            title.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.grid.addWidget(title, row, 0)
            for column, image in enumerate(images, start=1):
                picture = QLabel()
                picture.setPixmap(to_pixmap(image).scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio,
                                                          Qt.TransformationMode.SmoothTransformation))
                self.grid.addWidget(picture, row, column)
        self.status.setText(f"{len(samples) - 1} synthetic classes, sample set {self._seed + 1}")
        self.adjustSize()  # grow to the new pictures (the dialog was sized before they came)

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        for maker in list(self._makers):
            maker.wait(5000)
        super().closeEvent(event)
