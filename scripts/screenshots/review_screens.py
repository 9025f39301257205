"""Open the inspection window with the review dock on a generated capture store, for screenshots under Xvfb.

Usage: python scripts/screenshots/review_screens.py [DATA_DIR [SHOW [ORDER]]] (run through ../shared/tools/xshot),
where SHOW and ORDER are texts of the panel's combos ("All flagged", "Highest score first"). Without
DATA_DIR a temporary folder is used. The store gets a shift's worth of flagged parts: brighter good parts
that a first model flags (a diffuse heatmap), real defects (a hot spot over the defect's mask), a few PASS
samples and manual good captures, some already decided, from two model versions. No model is loaded.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from inspector_app.core.captures import CaptureStore
from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.modelstore import ModelStore
from inspector_app.gui.main_window import MainWindow

log = logging.getLogger(__name__)
SIZE = 256


def _defect_map(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A normalised map that peaks over the defect (as a trained model's would), with mild background noise."""
    hot = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 6.0)
    hot = hot / max(float(hot.max()), 1e-6) * rng.uniform(1.4, 2.2)
    noise = cv2.GaussianBlur(rng.random(mask.shape).astype(np.float32), (0, 0), 12.0)
    return hot + 0.35 * noise / max(float(noise.max()), 1e-6)


def _bright_map(rng: np.random.Generator) -> np.ndarray:
    """A broad warm area: what a model trained on darker parts shows for a brighter good part."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cx, cy = rng.uniform(90, 170, size=2)
    blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * rng.uniform(40, 70) ** 2))
    return (blob * rng.uniform(1.05, 1.4)).astype(np.float32)


def fill(captures: CaptureStore, now: float) -> None:
    """About forty captures over the last eight hours; the oldest ones already decided."""
    rng = np.random.default_rng(7)
    plan = [("bright", None)] * 16 + [("standard", kind) for kind in DEFECT_KINDS * 4] + [("standard", None)] * 4
    order = rng.permutation(len(plan))
    for n, index in enumerate(order):
        variant, defect = plan[index]
        image, mask = render_part(2000 + n, SIZE, defect=defect, variant=variant)
        passed = variant == "standard" and defect is None
        heat = _bright_map(rng) if variant == "bright" else _defect_map(mask, rng) * (0.4 if passed else 1.0)
        norm = float(heat.max())
        version = "v1" if n < 30 else "v2"
        record = captures.record(image, source="camera:0", frame_index=1000 + 37 * n, model_name="flange",
                                 model_version=version, score=0.012 * norm, normalised_score=norm, threshold=0.012,
                                 failed=not passed, anomaly_map=heat,
                                 captured_at=now - 8 * 3600 + n * 700 + float(rng.uniform(0, 300)))
        if n < 14 and not passed:
            captures.decide(record.id, "defect" if defect else "false_alarm")
    for n in range(2):
        captures.capture_good(render_part(3000 + n, SIZE)[0], source="camera:0", frame_index=5000 + n,
                              model_name="flange", model_version="v1")


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="review-screens-"))
    app = QApplication(sys.argv[:1])
    captures = CaptureStore(root, pass_sample_rate=0.0)
    if captures.counts()["total"] == 0:
        fill(captures, time.time())
    settings = QSettings(str(root / "screens.ini"), QSettings.Format.IniFormat)
    window = MainWindow(ModelStore(root), settings, captures=captures)
    window.resize(1600, 1000)
    window.show()
    window.log_dock.hide()
    panel = window.review_panel
    if len(sys.argv) > 2:
        panel.filters.show_combo.setCurrentText(sys.argv[2])
    if len(sys.argv) > 3:
        panel.filters.order_combo.setCurrentText(sys.argv[3])
    QTimer.singleShot(300, window.open_review)
    code = app.exec()
    window.shutdown()
    captures.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
