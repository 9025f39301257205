"""The review queue's filter bar: which captures to list, from which model version and time, in what order.

It only turns the operator's choices into ``CaptureStore.query`` keyword arguments; the panel does the
querying. ``scope()`` (model version and time) also drives the counts, the summary and the exports, while
``shown()`` adds the decision and verdict choice that only the grid uses.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

#: Label → query arguments of the "Show" choice. The first is the review queue itself.
SHOW = {
    "To review": {"decisions": ("unreviewed",), "verdicts": ("FAIL",)},
    "Defects": {"decisions": ("defect",)},
    "False alarms": {"decisions": ("false_alarm",)},
    "Good": {"decisions": ("good",)},
    "All flagged": {"verdicts": ("FAIL",)},
    "PASS samples": {"verdicts": ("PASS",)},
    "Everything": {},
}
#: Label → seconds back from now (None: no limit; 0: since local midnight).
PERIODS = {"Any time": None, "Today": 0, "Last 24 h": 86400, "Last 7 days": 7 * 86400, "Last 30 days": 30 * 86400}
ORDERS = {"Newest first": "newest", "Highest score first": "score", "Oldest first": "oldest"}
ALL_VERSIONS = "All model versions"


def _since(period: int | None, now: float) -> float | None:
    if period is None:
        return None
    if period == 0:
        local = time.localtime(now)
        return time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
    return now - period


class ReviewFilters(QWidget):
    """Show / model version / period / order combos; ``changed`` fires on any change."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.show_combo = self._combo(list(SHOW), "Which captures the grid lists (the counts cover them all)")
        self.model_combo = self._combo([ALL_VERSIONS], "Only captures inspected by this model version")
        self.period_combo = self._combo(list(PERIODS), "Only captures from this period")
        self.order_combo = self._combo(list(ORDERS), "Order of the grid")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label, combo in (("Show", self.show_combo), ("Model", self.model_combo),
                             ("Period", self.period_combo), ("Order", self.order_combo)):
            layout.addWidget(QLabel(label))
            layout.addWidget(combo)
        layout.addStretch(1)

    def _combo(self, items: list[str], tip: str) -> QComboBox:
        combo = QComboBox()
        combo.addItems(items)
        combo.setToolTip(tip)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.currentIndexChanged.connect(lambda _index: self.changed.emit())
        return combo

    def set_versions(self, versions: list[tuple[str, str]]) -> None:
        """Offer these (name, version) pairs, keeping the current choice; captures without a model are left out."""
        labels = [ALL_VERSIONS] + [f"{name}@{version}" for name, version in versions if name]
        current = [self.model_combo.itemText(i) for i in range(self.model_combo.count())]
        if labels == current:
            return
        chosen = self.model_combo.currentText()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems(labels)
        self.model_combo.setCurrentText(chosen if chosen in labels else ALL_VERSIONS)
        self.model_combo.blockSignals(False)
        if self.model_combo.currentText() != chosen:
            self.changed.emit()

    def scope(self, now: float | None = None) -> dict[str, Any]:
        """Model version and period as query arguments (counts, summary and exports use these)."""
        filters: dict[str, Any] = {}
        model = self.model_combo.currentText()
        if model != ALL_VERSIONS:
            filters["model_name"], _, filters["model_version"] = model.partition("@")
        since = _since(PERIODS[self.period_combo.currentText()], time.time() if now is None else now)
        if since is not None:
            filters["since"] = since
        return filters

    def shown(self, now: float | None = None) -> dict[str, Any]:
        """``scope()`` plus the "Show" choice: what the grid lists."""
        return {**self.scope(now), **SHOW[self.show_combo.currentText()]}

    def order(self) -> str:
        return ORDERS[self.order_combo.currentText()]

    def hides_decided(self) -> bool:
        """Whether a decided capture leaves the grid (the "To review" queue)."""
        return self.show_combo.currentText() == "To review"
