"""The soak bench streams exactly N frames through the reader and worker and reports each tenth."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks import soak_bench
from helpers import BrightFailsModel
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelRef, ModelStore


def test_the_soak_reports_memory_and_latency_for_each_tenth(qtbot, tmp_path: Path) -> None:  # noqa: ARG001
    files = []
    for i in range(3):
        files.append(tmp_path / f"{i}.png")
        save_image(files[-1], np.full((16, 16, 3), 60 * i, np.uint8))
    model = BrightFailsModel(ModelRef("fake", "v1"), delay=0.002)
    lines: list[str] = []
    figures = soak_bench.run_soak(ModelStore(tmp_path / "home"), model.ref, files, 50, report=lines.append,
                                  loader=lambda _store, _ref: model)
    assert [row["frames"] for row in figures["tenths"]] == list(range(5, 51, 5))
    assert model.calls >= 50  # every frame inspected (a few more run while the threads stop: not counted)
    assert all(row["p95_ms"] >= row["median_ms"] >= 2.0 for row in figures["tenths"])
    assert figures["rss_end_mb"] > 0 and len(figures["p95_ms_per_tenth"]) == 10
    assert lines[0].startswith("soak: 50 frames of 3 images") and lines[-1].startswith("RSS growth:")
