"""The training child process seen from the GUI: start, read its JSON progress lines, cancel, explain failures.

Training runs as ``inspector-app train --json-progress`` in its own process so that a crash, an out-of-memory
kill or a cancel can never take the inspection window (or its loaded model) down, and so the GPU memory is
returned when the child ends. This object only turns the child's output into signals; it never touches widgets.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

log = logging.getLogger(__name__)

#: Start-up lines of the TensorFlow / XLA / CUDA runtime (C++ log lines, CPU-feature and missing-GPU notices):
#: nothing an operator can act on, and they buried the training's own lines. Fatal ("F") lines are kept.
RUNTIME_NOISE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] |[IWE]\d{4} \d\d:\d\d:\d\d|"
    r"WARNING: All log messages before absl::InitializeLog|To enable the following instructions:|"
    r"WARNING: AutoGraph|This TensorFlow binary is optimized)")


def is_runtime_noise(text: str) -> bool:
    """True for a line of TensorFlow's own start-up chatter (see RUNTIME_NOISE)."""
    return RUNTIME_NOISE.match(text.lstrip()) is not None


#: Exit code of ``inspector-app train`` after a cancel.
EXIT_CANCELLED = 130
#: How long the child may take to stop after SIGTERM before it is killed.
KILL_AFTER_MS = 8000
TAIL_LINES = 30


def signal_name(number: int) -> str:
    """'SIGKILL' for 9, or 'signal N' when the number is unknown here."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class TrainingProcess(QObject):
    """Runs one training child at a time.

    Signals:
        progress(dict): each ``{"event": "progress", ...}`` line.
        log_line(str): every other line of output, stdout and stderr alike.
        finished(bool, str, str): (ok, model ``name@version`` or "", reason when not ok).
    """

    progress = Signal(dict)
    log_line = Signal(str)
    finished = Signal(bool, str, str)

    def __init__(self, data_dir: Path, command: list[str] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.command = command or [sys.executable, "-m", "inspector_app"]
        self.process: QProcess | None = None
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.final: dict[str, Any] = {}
        self.cancel_requested = False
        self._buffers = {"out": b"", "err": b""}
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

    def arguments(self, spec_path: Path) -> list[str]:
        return [*self.command[1:], "--data-dir", str(self.data_dir),
                "train", "--spec", str(spec_path), "--json-progress"]

    def start(self, spec_path: Path) -> None:
        """Start ``train --spec spec_path``; ``finished`` always follows, even when the start fails."""
        if self.running():
            msg = "a training process is already running"
            raise RuntimeError(msg)
        self.tail.clear()
        self.final = {}
        self.cancel_requested = False
        self._buffers = {"out": b"", "err": b""}
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        if not env.contains("TF_CPP_MIN_LOG_LEVEL"):
            env.insert("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's info and warning lines mean nothing here
        process.setProcessEnvironment(env)
        process.setProgram(self.command[0])
        process.setArguments(self.arguments(spec_path))
        process.readyReadStandardOutput.connect(lambda: self._read("out"))
        process.readyReadStandardError.connect(lambda: self._read("err"))
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error)
        self.process = process
        log.info("starting training: %s %s", self.command[0], " ".join(process.arguments()))
        process.start()

    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def pid(self) -> int:
        return int(self.process.processId()) if self.process is not None else 0

    def cancel(self) -> None:
        """Ask the child to stop (SIGTERM: it finishes the current batch and writes nothing); kill it if it lingers."""
        if not self.running():
            return
        self.cancel_requested = True
        assert self.process is not None
        self.process.terminate()
        self._kill_timer.start(KILL_AFTER_MS)

    def stop_and_wait(self) -> None:
        """Cancel and block until the child has ended (killed after KILL_AFTER_MS): for quitting the app."""
        if not self.running():
            return
        assert self.process is not None
        self.cancel()
        if not self.process.waitForFinished(KILL_AFTER_MS):
            self.process.kill()
            self.process.waitForFinished(3000)

    def _kill(self) -> None:
        if self.running():
            assert self.process is not None
            log.warning("training process did not stop after %d ms; killing it", KILL_AFTER_MS)
            self.process.kill()

    # -- output -------------------------------------------------------------------------------------------
    def _read(self, channel: str) -> None:
        if self.process is None:
            return
        chunk = self.process.readAllStandardOutput() if channel == "out" else self.process.readAllStandardError()
        self._buffers[channel] += bytes(chunk)
        *lines, self._buffers[channel] = self._buffers[channel].split(b"\n")
        for raw in lines:
            self._line(raw.decode(errors="replace").rstrip("\r"), channel)

    def _line(self, text: str, channel: str) -> None:
        if not text.strip():
            return
        event = _json_object(text) if channel == "out" else None
        if event is None:
            if is_runtime_noise(text):
                log.debug("training child: %s", text)
                return
            self.tail.append(text)
            self.log_line.emit(text)
            return
        if event.get("event") == "progress":
            self.progress.emit(event)
        else:
            self.final = event
            if event.get("message"):
                self.log_line.emit(f"{event['event']}: {event['message']}")

    def _flush(self) -> None:
        for channel in ("out", "err"):
            self._read(channel)
            rest, self._buffers[channel] = self._buffers[channel], b""
            self._line(rest.decode(errors="replace"), channel)

    # -- the end ------------------------------------------------------------------------------------------
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._flush()
        ok, model, reason = self._outcome(code, status)
        log.info("training process ended: ok=%s model=%s %s", ok, model, reason)
        self.finished.emit(ok, model, reason)

    def _outcome(self, code: int, status: QProcess.ExitStatus) -> tuple[bool, str, str]:
        event = self.final.get("event")
        if status == QProcess.ExitStatus.NormalExit and code == 0 and event == "done":
            return True, str(self.final.get("model", "")), ""
        if event == "cancelled" or (self.cancel_requested and code in (EXIT_CANCELLED, 0)):
            return False, "", "training cancelled — no version was written"
        if status == QProcess.ExitStatus.CrashExit:
            reason = self._signal_reason(code)
        elif event == "error":
            reason = f"training failed: {self.final.get('message', '')}"
        else:
            reason = f"the training process exited with code {code}"
        return False, "", reason + self._tail_text()

    def _signal_reason(self, number: int) -> str:
        if self.cancel_requested:
            return (f"the training process was stopped ({signal_name(number)}, signal {number}) "
                    "— no version was written")
        if number in (9, 15):  # SIGKILL, SIGTERM (by name only on POSIX)
            return (f"the training process was killed ({signal_name(number)}, signal {number}); "
                    "out of memory is a common cause — no version was written")
        return f"the training process crashed ({signal_name(number)}, signal {number}) — no version was written"

    def _tail_text(self) -> str:
        if not self.tail:
            return ""
        return "\n\nlast lines from the training process:\n" + "\n".join(list(self.tail)[-12:])

    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            why = self.process.errorString() if self.process else ""
            reason = f"could not start the training process ({self.command[0]}): {why}"
            log.error(reason)
            self.finished.emit(False, "", reason)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "event" in value else None
