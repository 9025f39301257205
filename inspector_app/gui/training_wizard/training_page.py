"""Page 4: the training child at work — epoch bar, ETA, loss curves, its log — with Stop, and why it failed.

The page only reads signals from :class:`.training_process.TrainingProcess`; the inspection window keeps
inspecting because nothing here blocks the GUI thread. A failure shows the exit reason and the child's last
lines, and "Train again" starts over with the same settings.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWizard, QWizardPage,
)

from inspector_app.detectors.registry import detector_class
from inspector_app.gui.training_wizard.estimates import duration_text
from inspector_app.gui.training_wizard.job_model import TrainingJob
from inspector_app.gui.training_wizard.training_process import TrainingProcess

log = logging.getLogger(__name__)
STAGE_TEXT = {"device": "Starting TensorFlow", "load": "Loading images", "data": "Data ready", "fit": "Fitting",
              "calibrate": "Scoring held-out images", "save": "Saving the version", "done": "Done"}


class TrainingPage(QWizardPage):
    """Starts the child when shown; complete once a version has been written."""

    #: (running) — the wizard hides Back while the child runs.
    running_changed = Signal(bool)

    def __init__(self, job: TrainingJob, process: TrainingProcess) -> None:
        super().__init__()
        self.job = job
        self.process = process
        self.setTitle("4 · Training")
        self.setSubTitle("Training runs in its own process; the inspection window keeps running meanwhile.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Calibrate >")
        self.stage = QLabel("Starting…")
        self.bar = QProgressBar()
        self.bar.setFormat("epoch %v / %m")
        self.eta = QLabel("")
        self.stop = QPushButton("Stop training")
        self.retry = QPushButton("Train again")
        self.retry.setVisible(False)
        self.failure = QLabel()
        self.failure.setWordWrap(True)
        self.failure.setStyleSheet("color: #cf222e; font-weight: bold;")
        self.failure.setVisible(False)
        self.plot = pg.PlotWidget(background="#161b22")
        self.plot.setMinimumHeight(200)
        self.plot.addLegend(offset=(-10, 10))
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss (log scale)")
        self.plot.setLogMode(y=True)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.loss_curve = self.plot.plot(pen=pg.mkPen("#58a6ff", width=2), symbol="o", symbolSize=5, name="loss")
        self.val_curve = self.plot.plot(pen=pg.mkPen("#d29922", width=2), symbol="o", symbolSize=5,
                                        name="validation loss")
        self.log_pane = QPlainTextEdit()
        self.log_pane.setReadOnly(True)
        self.log_pane.setMaximumBlockCount(3000)
        self.log_pane.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)  # never cut off at either side
        self.log_pane.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._spec_path: Path | None = None
        self._build_layout()
        self.stop.clicked.connect(self.process.cancel)
        self.retry.clicked.connect(self.start)
        self.process.progress.connect(self._on_progress)
        self.process.log_line.connect(self.log_pane.appendPlainText)
        self.process.finished.connect(self._on_finished)

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.stage, 1)
        top.addWidget(self.eta)
        top.addWidget(self.stop)
        top.addWidget(self.retry)
        split = QSplitter()
        split.addWidget(self.plot)
        split.addWidget(self.log_pane)
        split.setSizes([520, 420])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.failure)
        layout.addWidget(split, 1)

    def initializePage(self) -> None:  # noqa: N802 - Qt API
        if not self.process.running() and not self.job.model:
            self.start()

    def start(self) -> None:
        """Write the spec and start the child."""
        self.job.start_training()
        self.loss_curve.setData([], [])
        self.val_curve.setData([], [])
        self.plot.enableAutoRange()  # not the previous run's axes
        self.plot.setVisible(_has_epochs(self.job.family))  # patch memory fits in one pass: no loss curve
        self.log_pane.clear()
        self.failure.setVisible(False)
        self.retry.setVisible(False)
        self.stop.setEnabled(True)
        self.bar.setRange(0, 0)  # busy until the first epoch says how many there are
        self.eta.setText("")
        self.stage.setText("Starting the training process…")
        handle, name = tempfile.mkstemp(prefix="inspector-train-", suffix=".json")
        os.close(handle)
        self._spec_path = self.job.write_spec(Path(name))
        self.log_pane.appendPlainText(f"training {self.job.family} as {self.job.name} on {', '.join(self.job.data)}")
        self.running_changed.emit(True)
        self.process.start(self._spec_path)
        self.completeChanged.emit()

    def _on_progress(self, event: dict[str, Any]) -> None:
        stage = str(event.get("stage", ""))
        if stage == "train" and event.get("epochs"):
            self._on_epoch(event)
            return
        text = STAGE_TEXT.get(stage, stage.capitalize() or "Working")
        message = str(event.get("message") or "")
        if "fraction" in event and event["fraction"] is not None:
            if stage != "load" and not self.job.history.get("epoch"):  # families without epochs: bar by fraction
                self.bar.setFormat("%p %")
                self.bar.setRange(0, 100)
                self.bar.setValue(round(100 * float(event["fraction"])))
            text += f" — {message} {100 * float(event['fraction']):.0f} %" if message else ""
        elif message:
            text += f" — {message}"
            self.log_pane.appendPlainText(f"{stage}: {message}")
        self.stage.setText(text)

    def _on_epoch(self, event: dict[str, Any]) -> None:
        epoch, epochs = int(event.get("epoch", 0)), int(event["epochs"])
        self.bar.setFormat("epoch %v / %m")
        self.bar.setRange(0, epochs)
        self.bar.setValue(epoch)
        if not epoch:
            self.stage.setText(f"Training: {epochs} epochs")
            return
        self.job.record_epoch(event)
        loss, val = event.get("loss"), event.get("val_loss")
        self.stage.setText(f"Training: epoch {epoch} of {epochs}"
                           + (f" — loss {loss:.5g}" if loss is not None else "")
                           + (f", validation loss {val:.5g}" if val is not None else ""))
        if event.get("eta") is not None:
            so_far = f"{duration_text(float(event.get('seconds') or 0))} so far · " if event.get("seconds") else ""
            self.eta.setText(f"{so_far}about {duration_text(float(event['eta']))} left")
        self.log_pane.appendPlainText(f"epoch {epoch}/{epochs}"
                                      + (f"  loss {loss:.5g}" if loss is not None else "")
                                      + (f"  val_loss {val:.5g}" if val is not None else ""))
        self._draw_curves()

    def _draw_curves(self) -> None:
        epochs = self.job.history.get("epoch", [])
        for curve, key in ((self.loss_curve, "loss"), (self.val_curve, "val_loss")):
            points = [(e, v) for e, v in zip(epochs, self.job.history.get(key, [])) if math.isfinite(v)]
            curve.setData([p[0] for p in points], [p[1] for p in points])

    def _on_finished(self, ok: bool, model: str, reason: str) -> None:
        self.stop.setEnabled(False)
        if self._spec_path is not None:
            self._spec_path.unlink(missing_ok=True)
        self.eta.setText("")
        if ok:
            self.job.model = model
            self.bar.setRange(0, max(self.bar.maximum(), 1))
            self.bar.setValue(self.bar.maximum())
            self.stage.setText(f"Saved {model}. Press “Calibrate” to check the threshold.")
        else:
            self.job.failure = reason
            if self.bar.maximum() == 0:  # ended before the first epoch
                self.bar.setRange(0, 1)
            self.bar.setFormat("stopped at epoch %v / %m")
            self.stage.setText("No version was written; the active model is untouched.")
            headline, _, tail = reason.partition("\n\n")
            self.failure.setText(headline + ("\nIts last lines are at the end of the log below." if tail else ""))
            self.failure.setVisible(True)
            self.retry.setVisible(True)
            self.log_pane.appendPlainText(reason)
            scroll = self.log_pane.verticalScrollBar()
            scroll.setValue(scroll.maximum())
        self.running_changed.emit(False)
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802 - Qt API
        return bool(self.job.model) and not self.process.running()


def _has_epochs(family: str) -> bool:
    """Whether the family trains in epochs (and so has a loss curve to draw)."""
    try:
        return "epochs" in detector_class(family).default_config()
    except ValueError:
        return True
