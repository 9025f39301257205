"""Side-panel group listing model versions from the store, with the chosen one's family and metrics."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QPushButton, QVBoxLayout, QHBoxLayout, QWidget

from inspector_app.core.errors import InspectorError
from inspector_app.core.modelstore import ModelRef, ModelStore


def describe_meta(meta: dict[str, Any]) -> str:
    """A few lines an engineer wants to see about a version."""
    lines = [f"{meta.get('title', meta['family'])}", f"threshold {meta['calibration']['threshold']:.4g}"]
    evaluation = meta.get("metrics", {}).get("evaluation", {})
    if evaluation.get("image_auroc") is not None:
        lines.append(f"image AUROC {evaluation['image_auroc']:.3f}")
    if evaluation.get("pixel_auroc") is not None:
        lines.append(f"pixel AUROC {evaluation['pixel_auroc']:.3f}")
    data = meta.get("training_data", {})
    if data:
        lines.append(f"trained on {data.get('train_good', '?')} good images")
    if meta.get("created_at"):
        lines.append(f"created {meta['created_at']}")
    return "\n".join(lines)


def version_line(ref: Any, meta: dict[str, Any]) -> str:
    """One menu line for a version: number, label, date, family and its figures (Model ▸ Roll back)."""
    parts = [str(ref)]
    if meta.get("label"):
        parts.append(f"“{meta['label']}”")
    if meta.get("created_at"):
        parts.append(str(meta["created_at"])[:16].replace("T", " "))
    parts.append(str(meta.get("title", meta.get("family", "?"))))
    threshold = meta.get("calibration", {}).get("threshold")
    if threshold is not None:
        parts.append(f"threshold {threshold:.4g}")
    evaluation = meta.get("metrics", {}).get("evaluation", {})
    if evaluation.get("image_auroc") is not None:
        parts.append(f"image AUROC {evaluation['image_auroc']:.3f}")
    return "  ·  ".join(parts)


class ModelPanel(QGroupBox):
    use_requested = Signal(object)  # ModelRef

    def __init__(self, store: ModelStore, parent: QWidget | None = None) -> None:
        super().__init__("Model", parent)
        self.store = store
        self.combo = QComboBox()
        self.info = QLabel("no model loaded")
        self.info.setWordWrap(True)
        self.info.setObjectName("modelInfo")
        self.use_button = QPushButton("Use model")
        self.refresh_button = QPushButton("Refresh")
        self.combo.setToolTip("Model versions in the model store; the active one is marked")
        self.use_button.setToolTip("Inspect with the chosen version from the next frame on (no restart)")
        self.refresh_button.setToolTip("Read the model store again (after training from the command line)")
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.combo)
        layout.addLayout(buttons)
        layout.addWidget(self.info)
        self.refresh_button.clicked.connect(self.refresh)
        self.use_button.clicked.connect(self._use)
        self.combo.currentIndexChanged.connect(self._show_selected)
        self.refresh()

    def refresh(self, select: ModelRef | None = None) -> None:
        current = select or self.selected()
        self.combo.blockSignals(True)
        self.combo.clear()
        active = self.store.active()
        for ref in self.store.all_refs():
            label = str(ref) + ("  (active)" if ref == active else "")
            self.combo.addItem(label, ref)
        self.combo.blockSignals(False)
        if current is not None:
            self.select(current)
        self._show_selected()

    def select(self, ref: ModelRef) -> None:
        for i in range(self.combo.count()):
            if self.combo.itemData(i) == ref:
                self.combo.setCurrentIndex(i)
                return

    def selected(self) -> ModelRef | None:
        data = self.combo.currentData()
        return data if isinstance(data, ModelRef) else None

    def _use(self) -> None:
        ref = self.selected()
        if ref is not None:
            self.use_requested.emit(ref)

    def _show_selected(self) -> None:
        ref = self.selected()
        if ref is None:
            self.info.setText("no models yet — train one (Train menu) or run the demo")
            return
        try:
            self.info.setText(describe_meta(self.store.meta(ref)))
        except InspectorError as exc:
            self.info.setText(f"unreadable: {exc}")
