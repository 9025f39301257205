"""Per-model-version figures of the review queue, and the buttons that export them for quality reports.

The table answers "how is this model doing on the line": of the parts it flagged and the operator reviewed,
how many were real defects and how many false alarms. CSV and JSON exports write the captures the grid lists
(its Show, model and period filters); the summary CSV covers the model and period, every decision included;
the capture store does the writing, atomically and with spreadsheet formulas escaped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QPushButton, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from inspector_app.core.captures import CaptureStore, CaptureStoreError

log = logging.getLogger(__name__)

COLUMNS = (
    ("Model version", lambda row: f"{row['model_name']}@{row['model_version']}" if row["model_name"] else "manual"),
    ("Captures", lambda row: str(row["inspected"])),  # stored captures (every FAIL, sampled PASS), not frames
    ("Flagged", lambda row: str(row["flagged"])),
    ("Reviewed", lambda row: str(row["reviewed"])),
    ("Defect rate", lambda row: _percent(row["defect_rate"])),
    ("False-alarm rate", lambda row: _percent(row["false_alarm_rate"])),
    ("Missed defects", lambda row: str(row["missed_defects"])),
)
#: Button label → (file filter, default name, store method).
EXPORTS: dict[str, tuple[str, str, str]] = {
    "Export CSV…": ("CSV files (*.csv)", "inspections.csv", "export_csv"),
    "Export JSON…": ("JSON files (*.json)", "inspections.json", "export_json"),
    "Summary CSV…": ("CSV files (*.csv)", "summary.csv", "export_summary_csv"),
}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


class SummaryBox(QWidget):
    """The summary table plus export buttons; ``scope`` gives the filters to summarise and export.

    Args:
        captures: the capture store.
        scope: returns the current model-version and period filters (``ReviewFilters.scope``).
        ask_path: asks where to save (title, default name, file filter) → path or None; tests replace it.
    """

    #: A message for the operator (what was exported, or why not).
    message = Signal(str)

    def __init__(self, captures: CaptureStore, scope: Callable[[], dict[str, Any]],
                 ask_path: Callable[[str, str, str], str | None] | None = None, parent: QWidget | None = None,
                 listed: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__(parent)
        self.captures = captures
        self.scope = scope
        self.listed = listed or scope  # what the grid lists: the CSV and JSON exports write exactly that
        self.ask_path = ask_path or self._dialog
        self.folder = Path.home()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([name for name, _ in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setToolTip("Captures: stored inspections (every FAIL and a sample of PASS), not every frame "
                              "inspected (the Counters panel has that). Rates are shares of the flagged parts an "
                              "operator reviewed")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for label in EXPORTS:
            button = QPushButton(label)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keyboard focus stays on the queue
            button.setToolTip("The summary of the chosen model version and period" if label.startswith("Summary")
                              else "The captures listed (Show, model version and period), with their decisions")
            button.clicked.connect(lambda _=False, name=label: self.export(name))
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def refresh(self) -> None:
        """Recompute the table from the database (reads every matching record: call it when something changed)."""
        try:
            rows = self.captures.summary(**self.scope())
        except CaptureStoreError as exc:
            self.message.emit(f"summary unavailable: {exc}")
            return
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (_, cell) in enumerate(COLUMNS):
                item = QTableWidgetItem(cell(row))
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)

    def export(self, label: str) -> Path | None:
        """Ask for a file and write the export ``label`` names; returns the path written."""
        file_filter, default_name, method = EXPORTS[label]
        chosen = self.ask_path(label.rstrip("…"), str(self.folder / default_name), file_filter)
        if not chosen:
            return None
        path = Path(chosen)
        try:
            filters = self.scope() if method == "export_summary_csv" else self.listed()
            count = getattr(self.captures, method)(path, **filters)
        except (OSError, CaptureStoreError) as exc:
            log.warning("export to %s failed: %s", path, exc)
            self.message.emit(f"export failed: {exc}")
            return None
        self.folder = path.parent
        self.message.emit(f"exported {count} row(s) to {path}")
        log.info("exported %d row(s) to %s", count, path)
        return path

    def _dialog(self, title: str, default: str, file_filter: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self, title, default, file_filter)
        return path or None
