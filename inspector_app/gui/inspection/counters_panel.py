"""Side-panel group with the shift's counters: inspected, pass, fail, fail %, fps, latency, dropped."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from inspector_app.core.stream_stats import StatsSnapshot

FIELDS = ("inspected", "pass", "fail", "fail %", "frames/s", "latency median", "latency p95", "dropped", "skipped")
#: Rates and latencies cover the last frames only (``StreamStats`` window); counts cover the whole source.
TIPS = {"frames/s": "over the last 200 frames",
        "latency median": "half the last 200 frames took less (a model's slow first frame does not skew it)",
        "latency p95": "95 % of the last 200 frames took less",
        "dropped": "frames a live source delivered while the model was still busy",
        "skipped": "files that could not be read"}


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
            if name in TIPS:
                label.setToolTip(TIPS[name])
                form.labelForField(label).setToolTip(TIPS[name])

    def show_snapshot(self, s: StatsSnapshot) -> None:
        values = {
            "inspected": f"{s.inspected}", "pass": f"{s.passed}", "fail": f"{s.failed}",
            "fail %": f"{s.fail_percent:.1f} %", "frames/s": f"{s.fps:.1f}",
            "latency median": f"{s.latency_median_ms:.1f} ms", "latency p95": f"{s.latency_p95_ms:.1f} ms",
            "dropped": f"{s.dropped}", "skipped": f"{s.skipped}",
        }
        for name, text in values.items():
            self.labels[name].setText(text)
