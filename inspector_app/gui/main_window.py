"""The inspection window an operator watches all shift.

The GUI thread only paints: a SourceReader thread reads frames, the InferenceWorker thread inspects them,
and results arrive by signal. Painting runs from a display-rate timer that draws only the newest result,
so a fast stream never floods the event loop. A generation number drops results that belong to a source
the operator has already switched away from; a model switch needs none, because the worker's signals arrive
in order.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication, QComboBox, QDockWidget, QHBoxLayout, QLabel, QMainWindow, QMessageBox, QSlider, QSplitter,
    QSizePolicy, QToolBar, QVBoxLayout, QWidget, QScrollArea,
)

from inspector_app import __version__
from inspector_app.core.calibration import MapKind
from inspector_app.core.captures import CaptureStore
from inspector_app.core.errors import InspectorError
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import Frame, FrameSource
from inspector_app.core.stream_stats import StreamStats
from inspector_app.gui.inference_worker import InferenceWorker, InspectionResult, default_loader
from inspector_app.gui.inspection.capture_recorder import CaptureRecorder
from inspector_app.gui.inspection.counters_panel import CountersPanel
from inspector_app.gui.inspection.heatmap_legend import HeatmapLegend
from inspector_app.gui.inspection.image_view import ImageView
from inspector_app.gui.inspection.log_panel import LogPanel
from inspector_app.gui.inspection.model_panel import ModelPanel, describe_meta, version_line
from inspector_app.gui.inspection.score_chart import ScoreChart
from inspector_app.gui.inspection.source_panel import SourcePanel, SourceSpec
from inspector_app.gui.inspection.source_reader import SourceReader
from inspector_app.gui.inspection.verdict_banner import BannerState, VerdictBanner
from inspector_app.gui.review.panel import ReviewPanel
from inspector_app.jobs.retrain import retrain_spec_from_captures
from inspector_app.jobs.training_spec import TrainingSpec

log = logging.getLogger(__name__)
OVERLAYS = ("heatmap", "contours", "none")
#: Room a window manager's title bar and borders take, assumed until the window is shown (then measured).
FRAME_GUESS = (8, 36)
#: The operator's guide, in a source checkout (docs/ is not part of an installed wheel).
USER_GUIDE = Path(__file__).resolve().parents[2] / "docs" / "user-guide.md"
PAINT_INTERVAL_MS = 33
#: The strip chart redraws at most this often: at 30 Hz it cost the GUI thread more than the image did.
CHART_INTERVAL_S = 0.1


def frame_caption(frame: Frame) -> str:
    """"img_003.png · frame 3" for a file, "camera:0 · frame 1520" for a stream."""
    name = Path(frame.path).name if frame.path else frame.source_id
    return f"{name} · frame {frame.index}"


class MainWindow(QMainWindow):
    #: Every inspection result (frame, score, map, verdict, model version, time): the review queue stores these.
    inspected = Signal(object)
    #: The operator asked to keep the current frame as a known-good image.
    capture_good_requested = Signal(object)  # Frame

    def __init__(self, store: ModelStore, settings: QSettings | None = None, loader: Any = default_loader,
                 captures: CaptureStore | None = None) -> None:
        super().__init__()
        self.store = store
        self.settings = settings or QSettings()
        self.setWindowTitle(f"Inspector {__version__}")
        self.stats = StreamStats()
        self.generation = 0
        self.reader: SourceReader | None = None
        self.source_spec: SourceSpec | None = None
        self.latest: InspectionResult | None = None
        self.latest_frame: Frame | None = None
        self._dirty = False
        self.source_lost = False
        self.lost_message = ""
        self.model: Any = None
        self._activate_when_loaded: ModelRef | None = None  # a rollback waits for the worker's load check
        self.worker = InferenceWorker(store, loader)
        self._build_widgets()
        self._build_actions()
        self._connect_worker()
        self._attach_captures(captures)
        self.worker.start()
        self.paint_timer = QTimer(self)
        self.paint_timer.timeout.connect(self._paint)
        self.paint_timer.start(PAINT_INTERVAL_MS)
        self._chart_drawn_at = 0.0
        self._chart_dirty = False
        self._restore_settings()

    # -- construction -----------------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.banner = VerdictBanner()
        self.view = ImageView()
        self.chart = ScoreChart()
        centre = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(6, 6, 6, 0)
        top_layout.addWidget(self.banner)
        top_layout.addWidget(self.view, 1)
        self.frame_label = QLabel()  # which file or frame the verdict is about
        self.frame_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.frame_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # a long name clips
        self.heatmap_legend = HeatmapLegend()
        caption = QHBoxLayout()
        caption.addWidget(self.frame_label, 1)
        caption.addWidget(self.heatmap_legend)
        top_layout.addLayout(caption)
        centre.addWidget(top)
        centre.addWidget(self.chart)
        centre.setStretchFactor(0, 5)
        centre.setStretchFactor(1, 1)
        centre.setSizes([700, 170])
        self.setCentralWidget(centre)

        self.source_panel = SourcePanel()
        self.model_panel = ModelPanel(self.store)
        self.counters = CountersPanel()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        for widget in (self.source_panel, self.model_panel, self.counters):
            side_layout.addWidget(widget)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(300)
        self.side_dock = QDockWidget("Controls", self)
        self.side_dock.setObjectName("controlsDock")
        self.side_dock.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.side_dock)
        self.log_panel = LogPanel()
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        # A tenth of a short screen at most: at 150 % on 1280×720 the log took the live picture's room.
        screen_height = (self.screen() or QApplication.primaryScreen()).availableGeometry().height()
        self.resizeDocks([self.log_dock], [max(40, min(110, screen_height // 10))], Qt.Orientation.Vertical)
        self.status_label = QLabel("ready")
        self.statusBar().addWidget(self.status_label, 1)
        self.source_panel.open_requested.connect(self.open_source)
        self.model_panel.use_requested.connect(self.choose_model)

    def _action(self, text: str, slot: Any, shortcut: str | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.pause_action = self._action("Pause", self.toggle_pause, "Space", "Pause or resume the stream (Space)")
        self.step_action = self._action("Step", self.step, "N", "Inspect one more frame while paused (N)")
        self.overlay_action = self._action("Overlay", self.cycle_overlay, "O", "Heatmap → contours → none (O)")
        self.fullscreen_action = self._action("Full screen", self.toggle_fullscreen, "F", "Full-screen image view (F)")
        self.capture_action = self._action("Capture as good", self.capture_good, "G",
                                           "Keep this frame as a known-good image for retraining")
        toolbar = QToolBar("Inspection")
        toolbar.setObjectName("inspectionToolbar")
        self.addToolBar(toolbar)
        for action in (self.pause_action, self.step_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Overlay "))
        self.overlay_combo = QComboBox()
        self.overlay_combo.addItems(OVERLAYS)
        self.overlay_combo.setToolTip("What to draw over the picture: the heatmap, the outline of the regions at "
                                      "or above the threshold, or nothing (O cycles)")
        self.overlay_combo.currentIndexChanged.connect(self._redraw)
        toolbar.addWidget(self.overlay_combo)
        toolbar.addWidget(QLabel("  Opacity "))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(55)
        self.opacity.setFixedWidth(120)
        self.opacity.setToolTip("How strongly the heatmap covers the picture")
        self.opacity.valueChanged.connect(self._redraw)
        toolbar.addWidget(self.opacity)
        toolbar.addSeparator()
        toolbar.addAction(self.capture_action)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for kind, label in (("folder", "Open &folder…"), ("video", "Open &video…"), ("camera", "Open &camera…")):
            file_menu.addAction(self._action(label, lambda _=False, k=kind: self.open_source_from_menu(k)))
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, "Ctrl+Q"))
        model_menu = menu.addMenu("&Model")
        model_menu.addAction(self._action("&Choose model…", self._focus_model))
        model_menu.addAction(self._action("Model &info", self.show_model_info))
        self.rollback_menu = model_menu.addMenu("&Roll back to version")
        self.rollback_menu.aboutToShow.connect(self._fill_rollback_menu)
        self.model_menu = model_menu
        train_menu = menu.addMenu("&Train")
        self.train_action = self._action("Training &wizard…", self.open_training_wizard)
        train_menu.addAction(self.train_action)
        self.retrain_action = self._action("&Retrain from captures…", self.retrain_from_captures,
                                           tip="Train the next version on its data plus the reviewed good captures")
        train_menu.addAction(self.retrain_action)
        review_menu = menu.addMenu("&Review")
        self.review_action = self._action("Review &queue", self.toggle_review, "R")
        self.review_action.setCheckable(True)
        review_menu.addAction(self.review_action)
        view_menu = menu.addMenu("&View")
        for action in (self.pause_action, self.step_action, self.overlay_action, self.fullscreen_action):
            view_menu.addAction(action)
        view_menu.addAction(self.side_dock.toggleViewAction())
        view_menu.addAction(self.log_dock.toggleViewAction())
        view_menu.addAction(self.review_action)
        help_menu = menu.addMenu("&Help")
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts, "?",
                                             "Every key of the window and the review queue (? or F1)")
        self.shortcuts_action.setShortcuts([QKeySequence("?"), QKeySequence("F1")])
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self._action("&User guide", self.open_user_guide, tip=f"Open {USER_GUIDE}"))
        help_menu.addSeparator()
        help_menu.addAction(self._action("&Device", self.show_device, tip="Which CPU or GPU inspects and trains"))
        help_menu.addAction(self._action("&About", self.show_about,
                                         tip="Version, data folder, model store and where the guide is"))
        self.set_train_available(True, "Train a new model version")
        self.set_review_available(False, "No capture store: the review queue is off")

    def set_train_available(self, available: bool, tip: str = "") -> None:
        self.train_action.setEnabled(available)
        self.train_action.setToolTip(tip)
        self.train_action.setStatusTip(tip)

    def set_review_available(self, available: bool, tip: str = "") -> None:
        self.review_action.setEnabled(available)
        self.review_action.setToolTip(tip)
        self.review_action.setStatusTip(tip)

    def _connect_worker(self) -> None:
        self.worker.results.connect(self._on_results)
        self.worker.frame_without_model.connect(self._on_frame_without_model)
        self.worker.model_loading.connect(self._on_model_loading)
        self.worker.model_loaded.connect(self._on_model_loaded)
        self.worker.model_failed.connect(self._on_model_failed)
        self.worker.error.connect(self._on_worker_error)

    # -- sources ----------------------------------------------------------------------------------------
    def open_source(self, spec: SourceSpec, source: FrameSource | None = None) -> bool:
        """Switch to a new source while running; returns False (with a log line) when it cannot open.

        ``source`` replaces ``spec.build()`` (tests pass a fake camera this way).
        """
        try:
            source = source or spec.build()
        except (InspectorError, ValueError) as exc:
            self._source_failed(str(exc))
            return False
        self._stop_reader()
        self.generation += 1
        self.worker.mailbox.clear()
        self.stats.reset()
        self.worker.mailbox.dropped = 0  # drops are counted per source and model, like the other counters
        self.chart.clear_scores()
        self._chart_dirty = True
        self.latest = None
        self.latest_frame = None
        self.view.clear()  # nothing of the previous source stays on screen as if it were this one's
        self.frame_label.setText("")
        self.counters.show_snapshot(self.stats.snapshot())
        self.source_spec = spec
        self.source_lost = False
        self.source_panel.set_spec(spec)
        self.reader = SourceReader(source, self.worker.mailbox, self.generation, not spec.drops_stale_frames)
        self.reader.status.connect(self._on_source_status)
        self.reader.start()
        self.pause_action.setText("Pause")
        self.banner.set_paused(False)
        self.log_panel.add(f"source: {spec.describe()}")
        self.status_label.setText(f"source: {spec.describe()}")
        self.settings.setValue("last_source", spec.to_dict())
        if self.model is None:
            self.banner.set_state(BannerState.NO_MODEL, "choose a model in the side panel")
        else:
            self.banner.set_state(BannerState.WAITING, f"for frames from {spec.describe()}")
        return True

    def _source_failed(self, message: str) -> None:
        self.log_panel.add(f"cannot open source: {message}", "error")
        self.status_label.setText(message)
        if self.reader is None:
            self.banner.set_state(BannerState.NO_SOURCE, message)

    def _stop_reader(self) -> None:
        if self.reader is not None:
            self.reader.stop()
            self.reader.wait(3000)
            self.reader = None

    @Slot(str, str)
    def _on_source_status(self, kind: str, message: str) -> None:
        if self.sender() is not self.reader:
            return  # a reader we already replaced
        if kind == "skipped":
            self.stats.skipped += 1
            self.log_panel.add(f"skipped {message}", "warning")
        elif kind == "lost":
            self.source_lost = True  # keep the banner on SOURCE LOST, not the last (stale) verdict
            self.lost_message = message
            self.banner.set_state(BannerState.SOURCE_LOST, message)
            self.view.clear()  # the last frame is not what the camera sees now
            self.frame_label.setText("no picture: the source is lost")
            self.log_panel.add(f"source lost: {message}", "warning")
            self.status_label.setText(f"source lost: {message}")
        elif kind == "recovered":
            self.source_lost = False
            self.log_panel.add(f"source back: {message}")
            self.status_label.setText(f"source back: {message}")
            if self.model is None:
                self.banner.set_state(BannerState.NO_MODEL)
            else:
                self.banner.set_state(BannerState.WAITING, f"for frames: {message}")
        elif kind == "end":
            self.log_panel.add("end of source")
            self.status_label.setText("end of source")
        elif kind == "error":
            self.reader = None
            self._source_failed(message)

    def open_source_from_menu(self, kind: str) -> None:
        """File ▸ Open …: ask where, then start it at once (rate and loop as the side panel has them)."""
        target = self.source_panel.ask_target(kind)
        if target is None:
            return
        panel = self.source_panel.spec()
        spec = SourceSpec(kind, target, panel.loop, panel.fps)
        self.source_panel.set_spec(spec)
        self.open_source(spec)

    # -- models -----------------------------------------------------------------------------------------
    def choose_model(self, ref: ModelRef) -> None:
        self.worker.request_model(ref)

    def _focus_model(self) -> None:
        self.side_dock.show()
        self.model_panel.refresh()
        self.model_panel.combo.setFocus()
        self.model_panel.combo.showPopup()

    @Slot(str)
    def _on_model_loading(self, ref: str) -> None:
        if self.model is None:
            self.banner.set_state(BannerState.LOADING_MODEL, ref)
        self.status_label.setText(f"loading model {ref}…")
        self.log_panel.add(f"loading model {ref}")

    @Slot(object)
    def _on_model_loaded(self, model: Any) -> None:
        self.model = model
        if self._activate_when_loaded is not None and self._activate_when_loaded == model.ref:
            self._activate_when_loaded = None
            try:
                self.store.activate(model.ref)
            except InspectorError as exc:
                self.log_panel.add(f"cannot activate {model.ref}: {exc}", "error")
        # The worker's signals arrive in order: every result of the previous model came before this one, every
        # result after it is the new model's. So the counters start afresh here, and frames waiting for the
        # worker are simply inspected by the new model (an unpaced folder skips none of its images).
        self.stats.reset()
        self.worker.mailbox.dropped = 0  # drops are counted per source and model, like the other counters
        self.chart.clear_scores()
        self._chart_dirty = True
        self.latest = None
        self.model_panel.refresh(select=model.ref)
        self.status_label.setText(f"model {model.ref} ({model.family})"
                                  + (f" · source lost: {self.lost_message}" if self.source_lost else ""))
        self.log_panel.add(f"model {model.ref} ready (threshold {model.calibration.threshold:.4g})")
        self.settings.setValue("last_model", str(model.ref))
        if self.source_lost:  # a model load does not bring the camera back
            self.banner.set_state(BannerState.SOURCE_LOST, self.lost_message)
        elif self.reader is None:
            self.banner.set_state(BannerState.NO_SOURCE, "open a source")
        elif self.reader.paused:
            self.banner.set_state(BannerState.PAUSED, "Space resumes · N inspects one frame")
        else:
            self.banner.set_state(BannerState.WAITING, "for frames: the next is inspected by the new model")
        self.overlay_combo.setCurrentText("contours" if model.map_kind == MapKind.MASK else "heatmap")

    @Slot(str)
    def _on_worker_error(self, text: str) -> None:
        self.log_panel.add(text, "error")

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self.log_panel.add(f"model failed to load: {message}", "error")
        if self._activate_when_loaded is not None:
            self.log_panel.add(f"{self._activate_when_loaded} was not made the active model", "error")
            self._activate_when_loaded = None
        self.status_label.setText(message)
        if self.model is None:
            self.banner.set_state(BannerState.NO_MODEL, "the model failed to load — see the log")
        else:
            self.log_panel.add(f"still running {self.model.ref}")

    # -- results and painting ---------------------------------------------------------------------------
    @Slot(object)
    def _on_results(self, results: list[InspectionResult]) -> None:
        for result in results:
            if result.generation != self.generation:
                continue  # belongs to a source the operator switched away from
            self.stats.add(result.failed, result.latency_ms)
            self.chart.add(result.times_threshold)
            self.latest = result
            self.latest_frame = result.frame
            self.source_lost = False
            self._dirty = True
            self.inspected.emit(result)
        self.stats.dropped = self.worker.mailbox.dropped

    @Slot(object, int)
    def _on_frame_without_model(self, frame: Frame, generation: int) -> None:
        if generation != self.generation:
            return
        self.latest_frame = frame
        self.latest = None
        self._dirty = True

    def _redraw(self) -> None:
        self._dirty = True

    def _paint(self) -> None:
        if self._dirty and not self.source_lost:
            self._dirty = False
            self._chart_dirty = True
            if self.latest is not None:
                r = self.latest
                self.show_result(r)
                self.banner.show_verdict(r.failed, r.score, r.threshold, r.times_threshold)
            elif self.latest_frame is not None:
                self.view.show_image(self.latest_frame.image)
                self.frame_label.setText(frame_caption(self.latest_frame))
                self.heatmap_legend.setVisible(False)
                if self.model is None:
                    self.banner.set_state(BannerState.NO_MODEL, "choose a model in the side panel")
            self.counters.show_snapshot(self.stats.snapshot())
        now = time.monotonic()
        if self._chart_dirty and now - self._chart_drawn_at >= CHART_INTERVAL_S:
            self._chart_dirty = False
            self._chart_drawn_at = now
            self.chart.refresh()

    def show_result(self, result: InspectionResult) -> None:
        """Draw a result's frame with the overlay the toolbar selects, its name and the heatmap's key."""
        mode = self.overlay_combo.currentText()
        self.frame_label.setText(frame_caption(result.frame))
        self.heatmap_legend.setVisible(mode == "heatmap")
        image = result.frame.image
        if mode == "heatmap":
            self.view.show_heatmap(image, result.anomaly_map, self.opacity.value() / 100)
        elif mode == "contours":
            self.view.show_contours(image, result.anomaly_map, level=1.0)
        else:
            self.view.show_image(image)

    # -- controls ---------------------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.reader is None:
            return
        if self.reader.paused:
            self.reader.resume()
            self.pause_action.setText("Pause")
            self.status_label.setText("running")
        else:
            self.reader.pause()
            self.pause_action.setText("Resume")
            self.status_label.setText("paused — N inspects one frame")
        self.banner.set_paused(self.reader.paused)

    def step(self) -> None:
        if self.reader is not None:
            if not self.reader.paused:
                self.toggle_pause()
            self.reader.step()

    def cycle_overlay(self) -> None:
        self.overlay_combo.setCurrentIndex((self.overlay_combo.currentIndex() + 1) % len(OVERLAYS))

    def toggle_fullscreen(self) -> None:
        """Full screen shows the image alone; leaving it brings back the docks that were open before."""
        if self.isFullScreen():
            self.showNormal()
            for dock in getattr(self, "_docks_before_fullscreen", (self.side_dock, self.log_dock)):
                dock.show()
        else:
            self._docks_before_fullscreen = [d for d in (self.side_dock, self.log_dock) if d.isVisible()]
            self.side_dock.hide()
            self.log_dock.hide()
            self.showFullScreen()

    def capture_good(self) -> None:
        if self.latest_frame is None:
            self.status_label.setText("nothing to capture yet")
            return
        self.capture_good_requested.emit(self.latest_frame)
        self.log_panel.add(f"captured frame {self.latest_frame.index} as good")

    # -- training, roll-back and review menus -----------------------------------------------------------
    def open_training_wizard(self, initial: TrainingSpec | None = None) -> None:
        """Open the training wizard beside the running inspection (non-modal); ``initial`` pre-fills a spec."""
        from inspector_app.gui.training_wizard import TrainingWizard  # noqa: PLC0415

        wizard = getattr(self, "training_wizard", None)
        if wizard is not None and wizard.isVisible():
            wizard.raise_()
            wizard.activateWindow()
            return
        if wizard is not None:
            wizard.deleteLater()  # a closed wizard from before
        self.training_wizard = TrainingWizard(self.store, self, initial if isinstance(initial, TrainingSpec) else None)
        self.training_wizard.show()

    def _fill_rollback_menu(self) -> None:
        """List the versions of the current model's name, newest first; the running one is checked."""
        self.rollback_menu.clear()
        current = self.model.ref if self.model is not None else self.store.active()
        versions = self.store.versions(current.name) if current is not None else []
        for version in reversed(versions):
            ref = ModelRef(current.name, version)
            try:
                text = version_line(ref, self.store.meta(ref))
            except InspectorError:
                text = f"{ref}  ·  (its metadata cannot be read)"
            action = self.rollback_menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(ref == current)
            action.triggered.connect(lambda _=False, r=ref: self.roll_back(r))
        if not versions:
            self.rollback_menu.addAction("no model versions yet").setEnabled(False)

    def roll_back(self, ref: ModelRef) -> None:
        """Switch the running worker to ``ref``; it becomes the active version once it has loaded (the worker
        loads it off the GUI thread), so a version that cannot load is never made active."""
        try:
            self.store.meta(ref)
        except InspectorError as exc:
            self.log_panel.add(f"cannot activate {ref}: {exc}", "error")
            return
        self.log_panel.add(f"rolling back to {ref}")
        self._activate_when_loaded = ref
        self.choose_model(ref)
        self.model_panel.refresh(select=ref)

    def _attach_captures(self, captures: CaptureStore | None) -> None:
        """Record results into ``captures`` from the worker thread and add the review dock (hidden)."""
        self.captures = captures
        self.review_panel: ReviewPanel | None = None
        self.retrain_action.setEnabled(captures is not None)
        if captures is None:
            return
        self.recorder = CaptureRecorder(captures, self)
        self.recorder.attach(self.worker)
        self.recorder.failed.connect(lambda text: self.log_panel.add(text, "error"))
        self.review_panel = ReviewPanel(captures)
        self.recorder.recorded.connect(self.review_panel.schedule_refresh)
        self.review_dock = QDockWidget("Review", self)
        self.review_dock.setObjectName("reviewDock")
        review_scroll = QScrollArea()  # on a small or scaled screen the queue scrolls instead of widening the window
        review_scroll.setWidget(self.review_panel)
        review_scroll.setWidgetResizable(True)
        self.review_dock.setWidget(review_scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.review_dock)
        self.tabifyDockWidget(self.side_dock, self.review_dock)  # full height beside the live view
        self.review_dock.hide()
        self.review_dock.toggleViewAction().toggled.connect(self.review_action.setChecked)  # menus show its state
        self.capture_good_requested.connect(lambda frame: self.recorder.capture_good(frame, self.latest))
        self.set_review_available(True, "Review flagged parts")

    def toggle_review(self, checked: bool) -> None:
        """Review ▸ Review queue (and View, and R): show the dock, bring it to the front, or close it."""
        if self.review_panel is None:
            self.review_action.setChecked(False)
            self.open_review()
            return
        if checked:
            self.open_review()
        elif self.review_dock.visibleRegion().isEmpty() and not self.review_dock.isHidden():
            self.open_review()  # open behind the Controls tab: bring it to the front rather than close it
            self.review_action.setChecked(True)
        else:
            self.review_dock.hide()

    def open_review(self) -> None:
        """Show the review dock beside the live view, with the keyboard on the queue."""
        if self.review_panel is None:
            self.status_label.setText("no capture store: the review queue is off")
            return
        self.review_dock.show()
        self.review_dock.raise_()
        # Wide enough for the queue without a scroll bar where the window allows, leaving the live view room.
        wanted = max(int(self.width() * 0.55), self.review_panel.minimumSizeHint().width() + 24)
        self.resizeDocks([self.review_dock], [min(wanted, self.width() - 320)], Qt.Orientation.Horizontal)
        self.review_panel.refresh(force=True)
        self.review_panel.setFocus()

    def retrain_from_captures(self) -> None:
        """Open the training wizard on the running version's data plus the good and false-alarm captures."""
        if self.captures is None:
            return
        try:
            initial = retrain_spec_from_captures(self.store, self.captures, self.model.ref if self.model else None)
        except InspectorError as exc:
            QMessageBox.information(self, "Retrain from captures", str(exc))
            return
        self.log_panel.add(f"retraining {initial.name} with {len(initial.extra_good)} captured good and "
                           f"{len(initial.extra_defect)} confirmed defect image(s)")
        self.open_training_wizard(initial)

    def show_model_info(self) -> None:
        if self.model is None:
            QMessageBox.information(self, "Model info", "No model loaded.")
            return
        QMessageBox.information(self, "Model info", f"{self.model.ref}\n\n{describe_meta(self.model.meta)}")

    def show_shortcuts(self) -> None:
        """Every key: the window's actions (read from them, so the list cannot go stale) and the review keys."""
        rows = [(a.shortcut().toString(QKeySequence.SequenceFormat.NativeText), a.text().replace("&", ""))
                for a in self.actions() if not a.shortcut().isEmpty()]
        rows += [("D · F · G", "Review: defect · false alarm · good (while the review queue has the keyboard)"),
                 ("U", "Review: undo the last decision"), ("← → ↑ ↓", "Review: previous / next capture"),
                 ("wheel · drag · double-click", "Picture: zoom · pan · fit")]
        table = "".join(f"<tr><td><b>{key}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>" for key, what in rows)
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", f"<table>{table}</table>", parent=self)
        box.setTextFormat(Qt.TextFormat.RichText)
        self.shortcuts_box = box  # tests read it
        box.open()

    def about_text(self) -> str:
        """Version, where the data lives and where the guide is, for Help ▸ About."""
        captures = self.captures.root if self.captures is not None and hasattr(self.captures, "root") else None
        guide = USER_GUIDE if USER_GUIDE.is_file() else None
        return (f"<h3>Inspector {__version__}</h3>"
                "<p>Offline visual inspection: live verdicts, heatmaps, review and retraining.</p>"
                f"<p><b>Data folder:</b> {self.store.root}<br>"
                f"<b>Model store:</b> {self.store.models_dir}<br>"
                + (f"<b>Captures:</b> {captures}<br>" if captures is not None else "")
                + f"<b>Settings:</b> {self.settings.fileName()}</p>"
                + (f"<p>User guide: <a href='{QUrl.fromLocalFile(str(guide)).toString()}'>{guide}</a></p>" if guide
                   else "<p>User guide: docs/user-guide.md in the inspector-app source folder.</p>"))

    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About Inspector", self.about_text(), parent=self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)  # links open, paths copy
        self.about_box = box
        box.open()

    def open_user_guide(self) -> None:
        if not USER_GUIDE.is_file() or not QDesktopServices.openUrl(QUrl.fromLocalFile(str(USER_GUIDE))):
            QMessageBox.information(self, "User guide", f"The user guide is docs/user-guide.md in the "
                                    f"inspector-app source folder (looked for {USER_GUIDE}).")

    def show_device(self) -> None:
        from inspector_app.gui.inspection.device_info import describe_device  # noqa: PLC0415

        QMessageBox.information(self, "Device", f"Inference and training device:\n{describe_device()}")

    # -- settings and shutdown --------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        state = self.settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        self.fit_to_screen()
        spec = SourceSpec.from_dict(self.settings.value("last_source"))
        if spec is not None:
            self.source_panel.set_spec(spec)

    def fit_to_screen(self) -> None:
        """Shrink and move the window into its screen's free area: a geometry saved on a larger screen, or
        at another scaling, must not open the window past the edges (where its controls cannot be reached)."""
        if self.isFullScreen() or self.isMaximized():
            return
        screen = (self.screen() or QApplication.primaryScreen()).availableGeometry()
        frame = self.frameGeometry().size() - self.geometry().size()  # title bar and borders, once shown
        if frame.isNull() and not self.isVisible():
            frame = QSize(FRAME_GUESS[0], FRAME_GUESS[1])  # not known before the window manager frames it
        width = min(self.width(), screen.width() - frame.width())
        height = min(self.height(), screen.height() - frame.height())
        if (width, height) != (self.width(), self.height()):
            self.resize(max(width, self.minimumSizeHint().width()), max(height, self.minimumSizeHint().height()))
        x = min(max(self.x(), screen.left()), screen.right() + 1 - self.width() - frame.width())
        y = min(max(self.y(), screen.top()), screen.bottom() + 1 - self.height() - frame.height())
        self.move(max(x, screen.left()), max(y, screen.top()))

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not getattr(self, "_fitted_once", False):
            self._fitted_once = True
            QTimer.singleShot(200, self, self.fit_to_screen)  # again with the frame's real size

    def last_model(self) -> str | None:
        value = self.settings.value("last_model")
        return str(value) if value else None

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if not self._training_allows_close():
            event.ignore()
            return
        if self.isFullScreen():  # save the window as the operator set it up, not the full-screen view
            self.toggle_fullscreen()
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.shutdown()
        super().closeEvent(event)

    def _training_allows_close(self) -> bool:
        """Closing while a training child runs asks once: keep training (the window stays open, so the
        child keeps running and its version is written), or stop the child, wait for it, and quit."""
        wizard = getattr(self, "training_wizard", None)
        if wizard is None or not wizard.isVisible():
            return True
        if not wizard.process.running():
            wizard.reject()  # its own question about a version trained but not finished
            return not wizard.isVisible()
        choice = self.ask("Training is running",
                          "Closing the window now would end the training and write no version.\n\n"
                          "Keep training: the window stays open and the new version is saved when training "
                          "ends. Stop training and quit: the training stops and nothing is written.",
                          ["Keep training", "Stop training and quit"])
        if choice != "Stop training and quit":
            wizard.raise_()
            wizard.activateWindow()
            return False
        wizard.stop_and_close()
        return True

    def ask(self, title: str, text: str, buttons: list[str]) -> str:
        """A question with named buttons; Escape or closing the box answers the first (tests replace this)."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=self)
        made = {box.addButton(name, QMessageBox.ButtonRole.AcceptRole if i == 0 else
                              QMessageBox.ButtonRole.DestructiveRole): name for i, name in enumerate(buttons)}
        first = next(iter(made))
        box.setDefaultButton(first)
        box.setEscapeButton(first)
        box.exec()
        return made.get(box.clickedButton(), buttons[0])

    def shutdown(self) -> None:
        """Stop threads in order: reader first (no new frames), then the worker."""
        wizard = getattr(self, "training_wizard", None)
        if wizard is not None and wizard.process.running():  # never leave a QProcess running as we go
            wizard.stop_and_close()
        self.paint_timer.stop()
        self._stop_reader()
        self.worker.stop()
        self.worker.wait(5000)
        if self.review_panel is not None:  # after the worker: it may be recording a capture
            self.review_panel.shutdown()
            self.recorder.shutdown()
