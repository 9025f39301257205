"""The review queue: the operator goes through flagged parts and says what each one really was.

Decisions are the ground truth the retraining loop learns from, so the panel is built for speed at the
keyboard (``keys``: D defect, F false alarm, G good, U undo, arrows to move); each decision is
committed at once and the next part comes up. The grid and the counts are read back from the capture store
(every second while shown, and soon after each new capture), so they always show what the database holds;
pictures load off the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from inspector_app.core.captures import CaptureRecord, CaptureStore, CaptureStoreError
from inspector_app.gui.inspection.image_view import ImageView
from inspector_app.gui.review.filters import ReviewFilters
from inspector_app.gui.review.grid import DECISION_MARKS, THUMB_CELL, ImageLoader, ReviewGrid, render_capture
from inspector_app.gui.review.keys import ReviewKeys
from inspector_app.gui.review.summary import SummaryBox
from inspector_app.gui.score_scale import times_threshold

log = logging.getLogger(__name__)

MAX_SHOWN = 1000
SUMMARY_EVERY_S = 2.0
BUTTONS = (("Defect", "D", "defect"), ("False alarm", "F", "false_alarm"), ("Good", "G", "good"))
DECISION_TIPS = {"defect": "A real defect: the model was right to flag it (D)",
                 "false_alarm": "Flagged but good: retraining from captures learns from it (F)",
                 "good": "A good part (a PASS sample or a capture): retraining learns from it (G)"}


def describe(record: CaptureRecord) -> str:
    """One rich-text line about a capture for the large view."""
    mark, colour = DECISION_MARKS.get(record.decision, ("?", None))
    when = datetime.fromtimestamp(record.captured_at).strftime("%Y-%m-%d %H:%M:%S")
    model = f"{record.model_name}@{record.model_version}" if record.model_name else "no model"
    decision = record.decision.replace("_", " ")
    colour_name = colour.name() if colour is not None else "#57606a"
    shortcut = "" if record.decision == "unreviewed" else f" [{mark}]"
    ratio = times_threshold(record.score, record.threshold, record.normalised_score)
    return (f"<b>#{record.id}</b> · <b>{record.verdict}</b> at {ratio:.2f}× the threshold "
            f"(score {record.score:.4g}, threshold {record.threshold:.4g})<br>"
            f"<span style='color:{colour_name}; font-weight:bold'>{decision}{shortcut}</span> · {model} · {when}<br>"
            f"frame {record.frame_index} of {record.source}")


class ReviewPanel(QWidget):
    """Thumbnail grid, large view with the heatmap, decision buttons and keys, counts, summary and exports.

    Args:
        captures: the capture store (shared with the recorder; it is thread-safe).
        parent: the parent widget.
        refresh_ms: how often to re-read the database while shown.
        ask_path: the export file question (title, default path, filter) → path; tests replace it.
    """

    def __init__(self, captures: CaptureStore, parent: QWidget | None = None, refresh_ms: int = 1000,
                 ask_path: Callable[[str, str, str], str | None] | None = None) -> None:
        super().__init__(parent)
        self.captures = captures
        self.filters = ReviewFilters()
        self.counts_label = QLabel()
        self.counts_label.setStyleSheet("font-size: 16px; font-weight: bold;")
        self.message = QLabel()
        self.message.setStyleSheet("color: #57606a;")
        self.grid = ReviewGrid()
        self.view = ImageView()
        self.view.setMinimumSize(160, 120)  # small enough for 1280×720 at 200 % scaling
        self.info = QLabel()
        # Whole lines, clipped on a narrow dock: a wrapped label's height was not honoured inside the dock's
        # scroll area, and the text was drawn over the picture.
        self.info.setWordWrap(False)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.heatmap = QCheckBox("Heatmap")
        self.heatmap.setChecked(True)
        self.heatmap.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.heatmap.setToolTip("Lay the capture's anomaly heatmap over the picture")
        self.summary = SummaryBox(captures, self.filters.scope, ask_path, listed=self.filters.shown)
        self.buttons: dict[str, QPushButton] = {}
        self._signature: tuple | None = None
        self._shown_key: tuple | None = None
        self._generation = 0
        self._summary_at = 0.0
        self._summary_due = True
        self.large = ImageLoader(self)
        self._build_layout()
        self._connect()
        self.setFocusProxy(self.grid)
        self.keys = ReviewKeys(self, self.decide, self.undo, self.move)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self.timer.start(refresh_ms)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(150)
        self._soon.timeout.connect(self._tick)
        self.refresh(force=True)

    def _build_layout(self) -> None:
        decide_row = QHBoxLayout()
        for text, key, decision in BUTTONS:
            slot = lambda _=False, d=decision: self.decide(d)  # noqa: E731
            self.buttons[decision] = self._button(f"{text}  [{key}]", slot, DECISION_MARKS[decision][1].name())
            self.buttons[decision].setToolTip(DECISION_TIPS[decision])
        self.buttons["undo"] = self._button("Undo  [U]", self.undo)
        self.buttons["undo"].setToolTip("Take back the last decision and show that capture again (U)")
        for button in self.buttons.values():
            decide_row.addWidget(button)
        decide_row.addStretch(1)
        decide_row.addWidget(self.heatmap)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.view, 1)
        right_layout.addWidget(self.info)
        right_layout.addLayout(decide_row)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.grid)
        top.addWidget(right)
        top.setStretchFactor(0, 2)
        top.setStretchFactor(1, 3)
        top.setSizes([3 * THUMB_CELL + 24, 5 * THUMB_CELL])  # three thumbnail columns to start with
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(self.summary)
        body.setStretchFactor(0, 4)
        body.setStretchFactor(1, 1)
        body.setSizes([700, 150])
        head = QHBoxLayout()
        head.addWidget(self.counts_label)
        head.addStretch(1)
        head.addWidget(self.message)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filters)
        layout.addLayout(head)
        layout.addWidget(body, 1)

    def _button(self, text: str, slot: Callable[..., None], colour: str = "") -> QPushButton:
        button = QPushButton(text)
        if colour:
            button.setStyleSheet(f"QPushButton {{ color: {colour}; font-weight: bold; padding: 0 14px; }}")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # clicking keeps the keyboard on the queue
        button.setMinimumHeight(34)
        button.clicked.connect(slot)
        return button

    def _connect(self) -> None:
        self.filters.changed.connect(self._on_filters)
        self.grid.currentItemChanged.connect(lambda *_: self._sync_view())
        self.heatmap.toggled.connect(lambda _on: self._sync_view())
        self.large.loaded.connect(self._on_large_loaded)
        self.summary.message.connect(self.say)

    # -- reading the database ---------------------------------------------------------------------------
    def _on_filters(self) -> None:
        """Another list: start at its top."""
        self.grid.setCurrentItem(None)
        self.refresh(force=True)

    def schedule_refresh(self, *_args: object) -> None:
        """Re-read the database shortly (coalesces a burst of new captures into one refresh)."""
        self._soon.start()

    def _tick(self) -> None:
        if not self.isVisible():
            return
        self.refresh()
        if self._summary_due and time.monotonic() - self._summary_at >= SUMMARY_EVERY_S:
            self._summary_due = False
            self._summary_at = time.monotonic()
            self.summary.refresh()

    def refresh(self, select: int | None = None, force: bool = False) -> None:
        """Update the counts; re-list the grid when the database or the filters changed (or ``force``)."""
        scope = self.filters.scope()
        try:
            counts = self.captures.counts(**scope)
            left = self.captures.counts(verdicts=("FAIL",), decisions=("unreviewed",), **scope)["unreviewed"]
        except CaptureStoreError as exc:
            self.say(f"capture database unavailable: {exc}")
            return
        self.counts_label.setText(f"{left} left to review · D {counts['defect']} · F {counts['false_alarm']} "
                                  f"· G {counts['good']}")
        signature = (tuple(sorted(counts.items())), left)
        if not force and select is None and signature == self._signature:
            return
        self._signature = signature
        self._summary_due = True
        self.filters.set_versions(self.captures.model_versions())
        records = self.captures.query(order=self.filters.order(), limit=MAX_SHOWN, **self.filters.shown())
        self.grid.set_records(records, select)
        self._sync_view()

    # -- the large view ---------------------------------------------------------------------------------
    def current_record(self) -> CaptureRecord | None:
        """The capture under review (the grid's current item)."""
        return self.grid.record(self.grid.current_id())

    def _sync_view(self) -> None:
        record = self.current_record()
        for button in self.buttons.values():
            button.setEnabled(record is not None)
        self.buttons["undo"].setEnabled(self.captures.last_decided_id() is not None)
        if record is None:
            self._shown_key = None
            self.view.show_image(np.full((3, 4, 3), 24, np.uint8))
            self.info.setText("<b>Nothing to show.</b><br>New flagged parts appear here as the line runs;<br>"
                              "other decisions and periods are under Show and Period.")
            return
        self.info.setText(describe(record))
        key = (record.id, self.heatmap.isChecked())
        if key != self._shown_key:
            self._shown_key = key
            self._generation += 1
            self.large.request(self._generation, lambda r=record, o=key[1]: render_capture(r, overlay=o))

    def _on_large_loaded(self, generation: object, picture: object) -> None:
        if generation != self._generation:
            return  # the operator has moved on
        if isinstance(picture, np.ndarray):
            self.view.show_image(picture)
        else:
            self.say("this capture's image cannot be read (see the log)")

    # -- decisions --------------------------------------------------------------------------------------
    def decide(self, decision: str) -> None:
        """Record ``decision`` for the current capture and move to the next one."""
        record = self.current_record()
        if record is None:
            self.say("nothing selected")
            return
        after = self.grid.neighbour_id(record.id)
        try:
            self.captures.decide(record.id, decision)
        except CaptureStoreError as exc:
            self.say(f"decision not saved: {exc}")
            return
        self.say(f"#{record.id}: {decision.replace('_', ' ')}")
        self.refresh(select=after if after is not None else record.id, force=True)

    def undo(self) -> None:
        """Take back the last decision made here and show that capture again."""
        record_id = self.captures.last_decided_id()
        if record_id is None:
            self.say("nothing to undo")
            return
        try:
            record = self.captures.undo(record_id)
        except CaptureStoreError as exc:
            self.say(f"undo failed: {exc}")
            return
        self.say(f"#{record_id}: back to {record.decision.replace('_', ' ')}")
        self.refresh(select=record_id, force=True)

    def move(self, step: int) -> None:
        """Select the capture ``step`` places away in the grid."""
        ids = self.grid.ids()
        current = self.grid.current_id()
        if not ids:
            return
        row = ids.index(current) + step if current in ids else 0
        self.grid.select_id(ids[max(0, min(row, len(ids) - 1))])

    def say(self, text: str) -> None:
        self.message.setText(text)

    def shutdown(self) -> None:
        """Stop the timers and the picture threads (before the store closes)."""
        self.timer.stop()
        self._soon.stop()
        self.large.close()
        self.grid.close_loader()
