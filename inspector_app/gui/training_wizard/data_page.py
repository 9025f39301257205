"""Page 2: the images to learn from — counts per class, a strip of examples, the warnings that matter and the
validation split that calibration will use, so problems show up before a long training run, not after it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDoubleSpinBox, QFileDialog, QGridLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
    QRadioButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget, QWizardPage,
)

from inspector_app.core.errors import ImageLoadError
from inspector_app.core.images import load_image, thumbnail
from inspector_app.detectors.base import DEFECT
from inspector_app.detectors.registry import detector_class
from inspector_app.gui.qimage import to_pixmap
from inspector_app.gui.training_wizard.data_summary import missing_text, needs_text, summarize
from inspector_app.gui.training_wizard.job_model import TrainingJob

THUMB = 88
WARN_COLOUR = "#9a6700"


class DataPage(QWizardPage):
    """Choose a dataset folder (MVTec or plain layout); captures join through Train ▸ Retrain from captures."""

    def __init__(self, job: TrainingJob) -> None:
        super().__init__()
        self.job = job
        self.setTitle("2 · Data")
        self.setSubTitle("A dataset folder in the MVTec layout (train/good, test/<type>, ground_truth) "
                         "or the plain layout (good/, defect/, masks/).")
        self.folder_option = QRadioButton("Dataset folder")
        self.folder_option.setChecked(True)
        self.captures_option = QRadioButton("Images captured by the review queue: Train ▸ Retrain from captures "
                                            "opens this wizard with them")
        self.captures_option.setEnabled(False)
        self.captures_option.setToolTip("Captured good parts and false alarms are added to the data given here")
        self.folder = QLineEdit(job.data[0] if job.data else "")
        self.folder.setPlaceholderText("folder holding train/ and test/, or good/ and defect/")
        self.browse = QPushButton("Browse…")
        self.extra = QLabel()
        self.more_folders = list(job.data[1:])  # a spec may name several; the field shows the first
        self.val_percent = QDoubleSpinBox()
        self.val_percent.setRange(5, 50)
        self.val_percent.setSuffix(" %")
        self.val_percent.setDecimals(0)
        self.val_percent.setValue(round(job.val_fraction * 100))
        self.counts = QTableWidget(0, 2)
        self.counts.setHorizontalHeaderLabels(["folder", "images"])
        self.counts.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.counts.verticalHeader().hide()
        self.counts.verticalHeader().setDefaultSectionSize(24)
        self.counts.setFixedHeight(8 * 24 + 32)  # an MVTec set with five defect types fits without scrolling
        self.strip = QHBoxLayout()
        self.messages = QLabel()
        self.messages.setWordWrap(True)
        self.messages.setTextFormat(Qt.TextFormat.RichText)
        self.messages.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._build_layout()
        self._rescan_timer = QTimer(self)
        self._rescan_timer.setSingleShot(True)
        self._rescan_timer.setInterval(300)
        self._rescan_timer.timeout.connect(self.rescan)
        self.browse.clicked.connect(self._browse)
        self.folder.editingFinished.connect(self.rescan)
        self.folder.textChanged.connect(lambda _: self._rescan_timer.start())
        self.val_percent.valueChanged.connect(lambda _: self._rescan_timer.start())

    def _build_layout(self) -> None:
        source = QGridLayout()
        source.addWidget(self.folder_option, 0, 0)
        source.addWidget(self.folder, 0, 1)
        source.addWidget(self.browse, 0, 2)
        source.addWidget(self.captures_option, 1, 0, 1, 3)
        source.addWidget(self.extra, 2, 0, 1, 3)
        split = QHBoxLayout()
        split.addWidget(QLabel("Hold out for validation and calibration:"))
        split.addWidget(self.val_percent)
        split.addStretch(1)
        strip_box = QWidget()
        strip_box.setLayout(self.strip)
        strip_box.setMinimumHeight(THUMB + 28)
        layout = QVBoxLayout(self)
        layout.addLayout(source)
        layout.addLayout(split)
        middle = QHBoxLayout()
        middle.addWidget(self.counts, 1)
        middle.addWidget(self.messages, 2)
        layout.addLayout(middle)
        layout.addWidget(strip_box)
        layout.addStretch(1)

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        extra = [f"also the folder(s) {', '.join(self.more_folders)}"] if self.more_folders else []
        if self.job.extra_good:
            extra.append(f"{len(self.job.extra_good)} captured good image(s)")
        self.extra.setText(("Plus " + " and ".join(extra) + ", given when the wizard opened.") if extra else "")
        self.rescan()

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Dataset folder", self.folder.text() or str(Path.home()))
        if chosen:
            self.folder.setText(chosen)
            self.rescan()

    def folders(self) -> list[str]:
        text = self.folder.text().strip()
        return ([text] if text else []) + self.more_folders

    def rescan(self) -> None:
        """Re-read the folder and show what training would use."""
        self._rescan_timer.stop()
        self.job.val_fraction = self.val_percent.value() / 100
        self.job.data = self.folders()
        summary = summarize(self.job.data, self.job.extra_good, self.job.val_fraction, self.job.seed)
        self.job.data_summary = summary
        self.counts.setRowCount(len(summary.counts))
        for row, (group, count) in enumerate(sorted(summary.counts.items(), key=_training_first)):
            self.counts.setItem(row, 0, QTableWidgetItem(group))
            item = QTableWidgetItem(str(count))
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.counts.setItem(row, 1, item)
        self.messages.setText(self._message_html())
        self._fill_strip()
        self.completeChanged.emit()

    def _family_problem(self) -> str:
        summary = self.job.data_summary
        if summary is None or summary.error:
            return ""
        family = detector_class(self.job.family)
        missing = summary.missing_for(family.needs)
        if missing:
            return (f"{family.title} needs {needs_text(family.needs)}; this data lacks {', '.join(sorted(missing))}. "
                    f"Add {missing_text(missing)}; or go back and choose another family.")
        if DEFECT in family.needs:
            counts = summary.supervised
            if min(counts.train_good, counts.val_good, counts.train_defect, counts.val_defect) < 1:
                return ("Training needs good and defect images both to learn from and to validate on: at least two "
                        "of each (three, to keep one unseen for evaluation).")
            return ""
        if summary.val_good < 1 or summary.train_good < 1:
            return "Training needs at least two good images (one to learn from, one to calibrate on)."
        return ""

    def _message_html(self) -> str:
        summary = self.job.data_summary
        assert summary is not None
        if summary.error:
            return f"<p style='color:#cf222e'><b>Cannot use this data:</b> {_escape(summary.error)}</p>"
        family = detector_class(self.job.family)
        uses_defects = DEFECT in family.needs
        parts = [f"<p><b>{_escape(family.title)}</b> learns from {needs_text(family.needs)}.</p>",
                 f"<p><b>Split:</b> {_escape(summary.split_text(uses_defects))}</p>"]
        problem = self._family_problem()
        if problem:
            parts.append(f"<p style='color:#cf222e'><b>{_escape(problem)}</b></p>")
        for warning in summary.warnings:
            parts.append(f"<p style='color:{WARN_COLOUR}'>⚠ {_escape(warning)}</p>")
        if not summary.warnings:
            parts.append("<p style='color:#1a7f37'>✓ No problems found in the image headers checked.</p>")
        parts += [f"<p style='color:#57606a'>{_escape(note)}</p>" for note in summary.notes]
        return "".join(parts)

    def _fill_strip(self) -> None:
        while self.strip.count():
            item = self.strip.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        summary = self.job.data_summary
        for sample in summary.examples if summary else []:
            self.strip.addWidget(_thumb_widget(sample.path, sample.defect_type))
        self.strip.addStretch(1)

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        summary = self.job.data_summary
        return bool(summary and summary.usable and not self._family_problem())


def _thumb_widget(path: Path, caption: str) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(2, 2, 2, 2)
    picture = QLabel()
    picture.setFixedSize(THUMB, THUMB)
    picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
    try:
        picture.setPixmap(to_pixmap(thumbnail(load_image(path), THUMB)))
    except ImageLoadError as exc:
        picture.setText("unreadable")
        picture.setToolTip(exc.reason)
    text = QLabel(caption)
    text.setAlignment(Qt.AlignmentFlag.AlignCenter)
    text.setStyleSheet("color: #cf222e;" if caption != "good" else "")
    layout.addWidget(picture)
    layout.addWidget(text)
    box.setToolTip(str(path))
    return box


def _training_first(item: tuple[str, int]) -> tuple[bool, str]:
    """Sort key: the folders training learns from (train/good, good, captures) before the others."""
    group = item[0]
    learned = group.endswith(("train/good", "captured good")) or group.split("/")[-1] == "good" and "test" not in group
    return not learned, group


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
