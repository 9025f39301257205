"""Before activating a retrained version: how the old and the new one do on the parts the operator reviewed.

Reviewed captures are the line's own ground truth: parts marked good or false alarm should PASS, confirmed
defects should FAIL. This box scores both versions on them (``jobs.retrain.compare_on_captures``) in a
background thread, since it loads two models and reads every reviewed image, and shows false alarms and
missed defects side by side. The training wizard hosts it on its finish page; it starts when first shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from inspector_app.core.captures import CAPTURES_DIR, DB_FILE, CaptureStore
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.gui.inference_worker import default_loader
from inspector_app.jobs.retrain import SHOULD_FAIL, SHOULD_PASS, compare_on_captures

log = logging.getLogger(__name__)

CAVEAT = ("Good captures can be part of the new version's training data, so its false alarms here can look "
          "better than they will on new parts.")


def _compare(store: ModelStore, old: ModelRef, new: ModelRef, loader: Callable[[ModelStore, ModelRef], Any]) -> dict:
    """Load both versions and score them on the reviewed captures (runs in the background thread)."""
    with CaptureStore(store.root) as captures:
        return compare_on_captures(loader(store, old), loader(store, new), captures)


def _reviewed(store: ModelStore) -> int:
    """How many captures have a decision that says what the verdict should be (0 without a capture store)."""
    if not (store.root / CAPTURES_DIR / DB_FILE).is_file():
        return 0
    with CaptureStore(store.root) as captures:
        counts = captures.counts()
    return sum(counts[d] for d in SHOULD_PASS + SHOULD_FAIL)


class RetrainComparison(QGroupBox):
    """False alarms and misses of the active version and the new one on the reviewed captures.

    Args:
        store: the model store; its data folder holds the captures.
        new_ref: returns the new version (the wizard's ``job.ref``), or None while there is none.
        loader: loads a version for inspecting (``LoadedModel.load``); tests pass fakes.
        parent: the parent widget.
    """

    #: The comparison finished (the dict from ``compare_on_captures``).
    compared = Signal(dict)
    _done = Signal(object, object)  # (old, new) pair, result dict or error text

    def __init__(self, store: ModelStore, new_ref: Callable[[], ModelRef | None],
                 loader: Callable[[ModelStore, ModelRef], Any] = default_loader, parent: QWidget | None = None) -> None:
        super().__init__("Old and new version on the reviewed captures", parent)
        self.store = store
        self.new_ref = new_ref
        self.loader = loader
        self.result: dict | None = None
        self._pair: tuple[ModelRef, ModelRef] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retrain-compare")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.table = QGridLayout()
        self.cells: dict[tuple[str, str], QLabel] = {}
        for col, head in enumerate(("", "False alarms", "Missed defects"), start=0):
            self.table.addWidget(self._bold(head), 0, col)
        for row, key in enumerate(("old", "new"), start=1):
            for col, what in enumerate(("model", "false_alarms", "misses")):
                self.cells[key, what] = QLabel("–")
                self.table.addWidget(self.cells[key, what], row, col)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(self.table)
        self._done.connect(self._show)
        self.destroyed.connect(lambda *_: self._pool.shutdown(wait=False, cancel_futures=True))

    @staticmethod
    def _bold(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("font-weight: bold;")
        return label

    def showEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        self.start()

    def start(self) -> bool:
        """Compare the active version with the new one unless that pair was done; True if started."""
        new, old = self.new_ref(), self.store.active()
        if new is None or old is None or new == old:
            self.status.setText("No earlier active version to compare with.")
            return False
        if (old, new) == self._pair:
            return False
        reviewed = _reviewed(self.store)
        if not reviewed:
            self.status.setText("No reviewed captures yet: review flagged parts (Review ▸ Review queue) to "
                                "compare versions on the line's own parts.")
            return False
        self._pair = (old, new)
        self.status.setText(f"Scoring {old} and {new} on {reviewed} reviewed capture(s)…")
        self._pool.submit(self._run, old, new)
        return True

    def _run(self, old: ModelRef, new: ModelRef) -> None:
        try:
            outcome: object = _compare(self.store, old, new, self.loader)
        except Exception as exc:  # noqa: BLE001 - shown in the box; the wizard stays usable
            log.warning("comparison of %s and %s failed: %s", old, new, exc)
            outcome = f"{type(exc).__name__}: {exc}"
        try:
            self._done.emit((old, new), outcome)
        except RuntimeError:  # the wizard closed meanwhile
            log.debug("comparison finished after its box was closed")

    def _show(self, pair: object, outcome: object) -> None:
        if pair != self._pair:
            return
        if not isinstance(outcome, dict):
            self.status.setText(f"Comparison failed: {outcome}")
            return
        self.result = outcome
        good, defects = outcome["good"], outcome["defects"]
        for key in ("old", "new"):
            figures = outcome[key]
            self.cells[key, "model"].setText(f"{'now' if key == 'old' else 'new'}: {figures['model']}")
            self.cells[key, "false_alarms"].setText(f"{figures['false_alarms']} of {good} good")
            self.cells[key, "misses"].setText(f"{figures['misses']} of {defects} defects")
        skipped = f" {len(outcome['skipped'])} unreadable capture(s) left out." if outcome["skipped"] else ""
        self.status.setText(f"{good} part(s) that should pass and {defects} that should fail.{skipped} {CAVEAT}")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.compared.emit(outcome)

    def shutdown(self) -> None:
        """Wait for a comparison in progress (tests; the wizard closing)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
