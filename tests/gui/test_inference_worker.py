"""The inference worker: results go out in order, before the after-inspection hook runs for them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt

from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import Frame
from inspector_app.gui.inference_worker import InferenceWorker, InspectionResult
from helpers import BrightFailsModel


def test_a_live_verdict_is_sent_before_it_is_recorded(qtbot: Any, tmp_path: Path) -> None:
    worker = InferenceWorker(ModelStore(tmp_path), loader=lambda _store, ref: BrightFailsModel(ref))
    sent: list[int] = []
    sent_when_recorded: list[bool] = []
    # Direct connection: runs in the worker thread at the moment of sending.
    worker.results.connect(lambda batch: sent.extend(r.frame.index for r in batch), Qt.ConnectionType.DirectConnection)

    def record(result: InspectionResult) -> None:
        sent_when_recorded.append(result.frame.index in sent)
        time.sleep(0.05)  # a slow disk

    worker.after_inspection = record
    worker.start()
    with qtbot.waitSignal(worker.model_loaded, timeout=5000):
        worker.request_model(ModelRef("fake", "v1"))
    try:
        for i in range(3):
            worker.mailbox.put((0, Frame(np.full((4, 4, 3), 200, np.uint8), "camera:0", i, time.time())))
            qtbot.waitUntil(lambda i=i: len(sent_when_recorded) == i + 1, timeout=3000)
    finally:
        worker.stop()
        worker.wait(3000)
    assert sent == [0, 1, 2]
    assert sent_when_recorded == [True, True, True]
