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
    """A one-line progress bar on stderr, with loss figures when training."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def __call__(self, fields: dict[str, Any]) -> None:
        stage = fields.get("stage", "")
        if stage == "train" and fields.get("epochs"):
            done, total = int(fields.get("epoch", 0)), int(fields["epochs"])
            filled = int(30 * done / max(total, 1))
            bar = "#" * filled + "-" * (30 - filled)
            extra = ""
            if fields.get("loss") is not None:
                extra += f" loss {fields['loss']:.5f}"
            if fields.get("val_loss") is not None:
                extra += f" val {fields['val_loss']:.5f}"
            if fields.get("eta") is not None:
                extra += f" eta {fields['eta']:.0f}s"
            self.stream.write(f"\r[{bar}] epoch {done}/{total}{extra}   ")
            if done == total:
                self.stream.write("\n")
        elif "fraction" in fields and stage in {"load", "fit"}:
            self.stream.write(f"\r{fields.get('message', stage)}: {100 * float(fields['fraction']):3.0f}%   ")
        elif fields.get("message"):
            self.stream.write(f"\n{stage}: {fields['message']}\n" if stage else f"\n{fields['message']}\n")
        self.stream.flush()


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value) if not isinstance(value, (int, float, str, bool, type(None))) else value
