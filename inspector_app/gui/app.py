"""Starting the window: QApplication, one exception hook, the demo's first-run preparation."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from inspector_app.core.captures import CaptureStore
from inspector_app.core.errors import InspectorError
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.paths import data_dir
from inspector_app.gui.inspection.source_panel import SourceSpec
from inspector_app.gui.inspection.verdict_banner import BannerState
from inspector_app.gui.main_window import MainWindow

log = logging.getLogger(__name__)


def install_excepthook(window: MainWindow | None = None) -> None:
    """Uncaught errors are logged and shown once in a dialog instead of killing the line."""

    def hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        log.error("uncaught error", exc_info=(kind, value, tb))
        if QApplication.instance() is not None:
            text = "".join(traceback.format_exception_only(kind, value)).strip()
            QMessageBox.critical(window, "Unexpected error", f"{text}\n\nDetails are in the log.")

    sys.excepthook = hook


class DemoPreparer:
    """Runs ``inspector-app demo --prepare`` in a child process and reports its progress in the banner."""

    def __init__(self, window: MainWindow, data_dir_arg: str | None) -> None:
        self.window = window
        self.process = QProcess(window)
        self.process.setProgram(sys.executable)
        args = ["-m", "inspector_app"]
        if data_dir_arg:
            args += ["--data-dir", data_dir_arg]
        self.process.setArguments([*args, "demo", "--prepare"])
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._finished)
        self._buffer = b""
        self.result: dict[str, Any] | None = None

    def start(self) -> None:
        self.window.banner.set_state(BannerState.PREPARING, "first run: drawing demo parts and training the demo model")
        self.window.log_panel.add("preparing the demo (first run only)")
        self.process.start()

    def _read(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "ready":
                self.result = event
            elif event.get("stage") == "train" and event.get("epochs"):
                self.window.banner.set_state(BannerState.PREPARING, f"training demo model: epoch {event['epoch']}/{event['epochs']}")
            elif event.get("message"):
                self.window.banner.set_state(BannerState.PREPARING, str(event["message"]))

    def _finished(self, code: int, _status: Any) -> None:
        if code != 0 or self.result is None:
            error = bytes(self.process.readAllStandardError()).decode(errors="replace").strip().splitlines()[-3:]
            self.window.banner.set_state(BannerState.NO_MODEL, "demo preparation failed — see the log")
            self.window.log_panel.add("demo preparation failed: " + " | ".join(error), "error")
            return
        start_demo(self.window, self.result)


def start_demo(window: MainWindow, ready: dict[str, Any]) -> None:
    window.model_panel.refresh()
    window.choose_model(window.store.resolve(ready["model"]))
    window.open_source(SourceSpec("demo", ready["stream"], loop=True, fps=3.0))


def run_gui(args: argparse.Namespace, demo: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("inspector-app")
    app.setOrganizationName("inspector-app")
    root = data_dir(args.data_dir)
    store = ModelStore(root)
    settings = QSettings(str(root / "ui-settings.ini"), QSettings.Format.IniFormat)
    captures = open_captures(root)
    window = MainWindow(store, settings, captures=captures)
    install_excepthook(window)
    window.show()
    if os.environ.get("INSPECTOR_APP_REPORT_STARTUP"):
        QTimer.singleShot(0, lambda: _report_startup(app))
    if demo:
        preparer = DemoPreparer(window, args.data_dir)
        QTimer.singleShot(0, preparer.start)
    else:
        _start_normal(window, store, getattr(args, "source", None), getattr(args, "model", None))
    try:
        return app.exec()
    finally:
        window.shutdown()  # the worker may be recording a capture: stop it before the store closes
        if captures is not None:
            captures.close()


def open_captures(root: Path) -> CaptureStore | None:
    """The capture store under the data folder, or None (logged) when it cannot be opened: inspection still runs."""
    try:
        return CaptureStore(root)
    except (InspectorError, OSError) as exc:
        log.error("review queue off: %s", exc)
        return None


def _report_startup(app: QApplication) -> None:
    """For ``bench --stream``: when the window is on screen, say when and whether TensorFlow was loaded."""
    print(json.dumps({"shown_at": time.time(), "tensorflow_imported": "tensorflow" in sys.modules}), flush=True)
    app.quit()


def _start_normal(window: MainWindow, store: ModelStore, source: str | None, model: str | None) -> None:
    try:
        ref: ModelRef | None = store.resolve(model) if model else store.active()
        if ref is None and window.last_model():
            ref = store.resolve(window.last_model() or "")
    except InspectorError as exc:
        window.log_panel.add(str(exc), "error")
        ref = None
    if ref is not None:
        window.choose_model(ref)
    else:
        window.banner.set_state(BannerState.NO_MODEL, "train a model (Train menu) or run `inspector-app demo`")
    if source:
        kind = "camera" if source.startswith(("camera:", "rtsp://", "http://", "https://")) or source.isdigit() else (
            "folder" if not source.lower().endswith((".mp4", ".avi", ".mov", ".mkv", ".m4v")) else "video")
        window.open_source(SourceSpec(kind, source.removeprefix("camera:")))
