"""Asks, in a short child process, what TensorFlow will train on, so the GUI thread never imports TensorFlow.

Importing TensorFlow takes seconds and would freeze the inspection window; a child answers in the background
and the answer is kept for the rest of the session (devices do not come and go while the app runs).
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QObject, QProcess, Signal

log = logging.getLogger(__name__)

PROBE_CODE = "from inspector_app.detectors.common.runtime import device_summary; print(device_summary())"
CHECKING = "checking…"


class DeviceProbe(QObject):
    """Runs the probe once; ``answered(text)`` carries the device line (or why it is unknown)."""

    answered = Signal(str)
    #: The answer of an earlier probe in this process, shared by every wizard.
    known: str | None = None

    def __init__(self, parent: QObject | None = None, code: str = PROBE_CODE) -> None:
        super().__init__(parent)
        self.code = code
        self.process: QProcess | None = None

    def start(self) -> None:
        """Answer at once when known, else start the child (``answered`` follows when it ends)."""
        if DeviceProbe.known is not None:
            self.answered.emit(DeviceProbe.known)
            return
        if self.process is not None:
            return
        self.process = QProcess(self)
        self.process.setProgram(sys.executable)
        self.process.setArguments(["-c", self.code])
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._failed)
        self.process.start()

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        assert self.process is not None
        out = bytes(self.process.readAllStandardOutput()).decode(errors="replace").strip().splitlines()
        if code == 0 and out:
            DeviceProbe.known = out[-1]
            self.answered.emit(out[-1])
        else:
            err = bytes(self.process.readAllStandardError()).decode(errors="replace").strip().splitlines()
            log.warning("device probe failed (%d): %s", code, " | ".join(err[-3:]))
            self.answered.emit("unknown — TensorFlow could not be asked" + (f" ({err[-1]})" if err else ""))

    def _failed(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.answered.emit("unknown — could not start Python to ask TensorFlow")

    def stop(self) -> None:
        """End a probe still running (the wizard is closing)."""
        if self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(2000)
