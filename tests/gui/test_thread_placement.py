"""The frame reader decodes on its own core; the inference worker (and the model it loads) on the others."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector_app.core.cores import core_split
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import Frame, FrameSource
from inspector_app.detectors.loaded_model import Inspection
from inspector_app.gui.inference_worker import InferenceWorker
from inspector_app.gui.inspection.source_reader import SourceReader
from helpers import BrightFailsModel

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or core_split() is None,
    reason="needs Linux thread affinity and at least two usable cores",
)


class RecordingSource(FrameSource):
    """Endless small frames; remembers the cores each read ran on."""

    def __init__(self) -> None:
        super().__init__("recording")
        self.cores: set[frozenset[int]] = set()

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _read(self) -> Frame:
        self.cores.add(frozenset(os.sched_getaffinity(0)))
        time.sleep(0.005)
        return self._frame(np.zeros((8, 8, 3), np.uint8), None)


class RecordingModel(BrightFailsModel):
    """Remembers the cores it was loaded and run on."""

    def __init__(self, ref: ModelRef) -> None:
        super().__init__(ref)
        self.load_cores = frozenset(os.sched_getaffinity(0))
        self.inspect_cores: set[frozenset[int]] = set()

    def inspect(self, images: np.ndarray) -> Inspection:
        self.inspect_cores.add(frozenset(os.sched_getaffinity(0)))
        return super().inspect(images)


def test_reader_and_worker_run_on_separate_cores(qtbot: Any, tmp_path: Path) -> None:
    split = core_split()
    assert split is not None
    caller_cores = os.sched_getaffinity(0)
    models: list[RecordingModel] = []
    worker = InferenceWorker(ModelStore(tmp_path), loader=lambda _store, ref: models.append(RecordingModel(ref)) or models[-1])
    results: list[Any] = []
    worker.results.connect(results.extend)
    worker.start()
    worker.request_model(ModelRef("recording", "v1"))
    source = RecordingSource()
    reader = SourceReader(source, worker.mailbox, generation=0, wait_for_worker=True)
    reader.start()
    try:
        qtbot.waitUntil(lambda: len(results) >= 5, timeout=10000)
    finally:
        reader.stop()
        reader.wait(3000)
        worker.stop()
        worker.wait(3000)
    assert source.cores == {split.reader}
    assert models[0].load_cores == split.inference  # a model's own threads start from here and inherit it
    assert models[0].inspect_cores == {split.inference}
    assert os.sched_getaffinity(0) == caller_cores  # the GUI thread is never pinned
