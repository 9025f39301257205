"""Side-panel group for choosing what to inspect: a folder, a video file, a camera or the demo parts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QInputDialog, QLineEdit,
    QPushButton, QWidget,
)

from inspector_app.core.sources import CameraSource, FolderSource, FrameSource, VideoFileSource

KINDS = {"folder": "Image folder", "video": "Video file", "camera": "Camera (index or URL)", "demo": "Demo parts"}


@dataclass
class SourceSpec:
    """What the operator chose; kept in QSettings so the window reopens on the same source."""

    kind: str
    target: str = ""
    loop: bool = False
    fps: float = 0.0  # 0 = as fast as the model inspects (every image, none dropped)

    def describe(self) -> str:
        return f"{KINDS.get(self.kind, self.kind)}: {self.target}" if self.target else KINDS.get(self.kind, self.kind)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> SourceSpec | None:
        try:
            return cls(str(data["kind"]), str(data.get("target", "")), bool(data.get("loop", False)),
                       float(data.get("fps", 0.0)))
        except (TypeError, KeyError, ValueError):
            return None

    def build(self) -> FrameSource:
        fps = self.fps or None
        if self.kind in {"folder", "demo"}:
            return FolderSource(self.target, loop=self.loop, fps=fps)
        if self.kind == "video":
            return VideoFileSource(self.target, loop=self.loop, fps=fps)
        if self.kind == "camera":
            device: int | str = int(self.target) if self.target.strip().isdigit() else self.target.strip()
            return CameraSource(device)
        msg = f"unknown source kind {self.kind!r}"
        raise ValueError(msg)

    @property
    def drops_stale_frames(self) -> bool:
        """Cameras and paced streams drop stale frames; an unpaced folder waits for every verdict."""
        return self.kind == "camera" or self.fps > 0


class SourcePanel(QGroupBox):
    open_requested = Signal(object)  # SourceSpec

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Source", parent)
        self.kind = QComboBox()
        for key, label in KINDS.items():
            self.kind.addItem(label, key)
        self.target = QLineEdit()
        self.target.setPlaceholderText("folder, video file, camera index or rtsp:// URL")
        self.browse = QPushButton("Browse…")
        self.loop = QCheckBox("Loop")
        self.fps = QDoubleSpinBox()
        self.fps.setRange(0, 120)
        self.fps.setDecimals(1)
        self.fps.setSpecialValueText("as fast as possible")
        self.fps.setSuffix(" fps")
        self.open_button = QPushButton("Open source")
        self.kind.setToolTip("What to inspect: a folder of images, a video file, a camera or the demo parts")
        self.target.setToolTip("The folder or video file, a camera index (0, 1, …) or a stream URL (rtsp://…)")
        self.browse.setToolTip("Choose the folder or video file")
        self.loop.setToolTip("Start again from the first image or frame at the end")
        self.fps.setToolTip("Frames per second to read; “as fast as possible” inspects every image of a folder "
                            "(none dropped), a set rate drops frames the model cannot keep up with")
        self.open_button.setToolTip("Start inspecting this source (File ▸ Open … asks and starts at once)")
        row = QHBoxLayout()
        row.addWidget(self.target, 1)
        row.addWidget(self.browse)
        form = QFormLayout(self)
        form.addRow("Kind", self.kind)
        form.addRow("Where", row)
        form.addRow("Rate", self.fps)
        form.addRow("", self.loop)
        form.addRow(self.open_button)
        self.browse.clicked.connect(self._browse)
        self.open_button.clicked.connect(lambda: self.open_requested.emit(self.spec()))
        self.kind.currentIndexChanged.connect(self._kind_changed)

    def spec(self) -> SourceSpec:
        return SourceSpec(self.kind.currentData(), self.target.text().strip(), self.loop.isChecked(), self.fps.value())

    def set_spec(self, spec: SourceSpec) -> None:
        index = self.kind.findData(spec.kind)
        if index >= 0:
            self.kind.setCurrentIndex(index)
        self.target.setText(spec.target)
        self.loop.setChecked(spec.loop)
        self.fps.setValue(spec.fps)

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.browse.setEnabled(kind in {"folder", "video"})
        if kind == "camera" and not self.target.text().strip():
            self.target.setText("0")

    def _browse(self) -> None:
        path = self.ask_target(self.kind.currentData())
        if path:
            self.target.setText(path)

    def ask_target(self, kind: str) -> str | None:
        """Ask where a ``kind`` source is: a folder or video file dialog, or a camera index or URL; None when
        the operator cancels."""
        start = self.target.text().strip() if self.kind.currentData() == kind else ""
        if kind == "video":
            path, _ = QFileDialog.getOpenFileName(self, "Open video", start,
                                                  "Videos (*.mp4 *.avi *.mov *.mkv *.m4v);;All files (*)")
        elif kind == "camera":
            path, ok = QInputDialog.getText(self, "Open camera", "Camera index (0, 1, …) or stream URL (rtsp://…):",
                                            text=start or "0")
            path = path.strip() if ok else ""
        else:
            path = QFileDialog.getExistingDirectory(self, "Open image folder", start)
        return path or None
