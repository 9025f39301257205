"""Side-panel group with the shift's counters: inspected, pass, fail, fail %, fps, latency, dropped."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from inspector_app.core.stream_stats import StatsSnapshot

FIELDS = ("inspected", "pass", "fail", "fail %", "frames/s", "latency avg", "latency p95", "dropped", "skipped")


class CountersPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Counters", parent)
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout(self)
        for name in FIELDS:
            label = QLabel("0")
            label.setObjectName(f"counter_{name}")
            self.labels[name] = label
            form.addRow(name, label)

    def show_snapshot(self, s: StatsSnapshot) -> None:
        values = {
            "inspected": f"{s.inspected}", "pass": f"{s.passed}", "fail": f"{s.failed}",
            "fail %": f"{s.fail_percent:.1f} %", "frames/s": f"{s.fps:.1f}",
            "latency avg": f"{s.latency_avg_ms:.1f} ms", "latency p95": f"{s.latency_p95_ms:.1f} ms",
            "dropped": f"{s.dropped}", "skipped": f"{s.skipped}",
        }
        for name, text in values.items():
            self.labels[name].setText(text)
