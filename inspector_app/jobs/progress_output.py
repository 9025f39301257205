"""How a headless job shows progress: one JSON object per line (for the wizard) or a terminal bar."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO


class JsonLines:
    """Writes each progress event as one JSON line on stdout, flushed at once (the wizard reads them live)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, fields: dict[str, Any]) -> None:
        self.emit({"event": "progress", **fields})

    def emit(self, payload: dict[str, Any]) -> None:
        self.stream.write(json.dumps(payload, default=_jsonable) + "\n")
        self.stream.flush()


class TerminalBar:
    """Progress on stderr: one line redrawn in place on a terminal; into a file or pipe, one line per stage.

    A log of a training run then holds each stage and epoch once, not thousands of carriage-return redraws.
    (tqdm and rich both keep redrawing into a pipe, only less often, so this stays hand-written.)
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self._redrawn = False  # a live line is on screen without its newline yet
        self._last_heading: tuple[str, str] | None = None

    def __call__(self, fields: dict[str, Any]) -> None:
        stage = fields.get("stage", "")
        if stage == "train" and fields.get("epochs"):
            done, total = int(fields.get("epoch", 0)), int(fields["epochs"])
            self._update(_epoch_line(done, total, fields), heading=("epoch", str(done)), finished=done == total)
        elif "fraction" in fields and stage in {"load", "fit"}:
            label = str(fields.get("message", stage))
            fraction = float(fields["fraction"])
            self._update(f"{label}: {100 * fraction:3.0f}%", heading=(stage, label), finished=fraction >= 1.0,
                         plain=f"{label} ...")
        elif fields.get("message"):
            self._line(f"{stage}: {fields['message']}" if stage else str(fields["message"]))
        self.stream.flush()

    def _update(self, text: str, heading: tuple[str, str], finished: bool, plain: str | None = None) -> None:
        """Redraw ``text`` in place on a terminal; elsewhere write it (or ``plain``) once per ``heading``."""
        if self.live:
            self.stream.write(f"\r{text}   ")
            self._redrawn = not finished
            if finished:
                self.stream.write("\n")
        elif heading != self._last_heading:
            self.stream.write((plain or text) + "\n")
        self._last_heading = heading

    def _line(self, text: str) -> None:
        if self._redrawn:
            self.stream.write("\n")
            self._redrawn = False
        self.stream.write(text + "\n")
        self._last_heading = None


def _epoch_line(done: int, total: int, fields: dict[str, Any]) -> str:
    filled = int(30 * done / max(total, 1))
    text = f"[{'#' * filled}{'-' * (30 - filled)}] epoch {done}/{total}"
    if fields.get("loss") is not None:
        text += f" loss {fields['loss']:.5f}"
    if fields.get("val_loss") is not None:
        text += f" val {fields['val_loss']:.5f}"
    if fields.get("eta") is not None:
        text += f" eta {fields['eta']:.0f}s"
    return text


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value) if not isinstance(value, (int, float, str, bool, type(None))) else value
