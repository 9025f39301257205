"""The QThread that owns the loaded model and turns frames into inspection results.

It takes frames from a one-slot mailbox (a slow model drops stale frames, never queues them), loads models
inside the thread (TensorFlow is imported here, lazily, while the window is already up), and reports
through signals only; it never touches a widget. A model that fails to load leaves the previous one running.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QThread, Signal

from inspector_app.core.calibration import MapKind
from inspector_app.core.cores import place_current_thread
from inspector_app.core.errors import InspectorError
from inspector_app.core.mailbox import LatestMailbox
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import Frame
from inspector_app.gui.score_scale import times_threshold

log = logging.getLogger(__name__)


@dataclass
class InspectionResult:
    """One inspected frame, as the window paints it and the review queue stores it."""

    frame: Frame
    generation: int
    model: str
    model_name: str
    model_version: str
    score: float
    normalised_score: float
    threshold: float
    failed: bool
    anomaly_map: np.ndarray
    map_kind: MapKind
    latency_ms: float
    finished_at: float  # wall clock, for records
    finished_monotonic: float = 0.0  # time.perf_counter(), for rates (a wall-clock step cannot skew them)

    @property
    def times_threshold(self) -> float:
        """score ÷ threshold, the scale the banner and the strip chart show."""
        return times_threshold(self.score, self.threshold, self.normalised_score)


def default_loader(store: ModelStore, ref: ModelRef) -> Any:
    from inspector_app.detectors.loaded_model import LoadedModel  # noqa: PLC0415 - TensorFlow loads here
    from inspector_app.detectors.common.runtime import reserve_core_for_display  # noqa: PLC0415

    reserve_core_for_display()
    return LoadedModel.load(store, ref)


#: Results go to the window at most this often (it paints at 30 Hz); one at a time, each would wake the GUI
#: thread, and those wake-ups slowed inference by a few per cent on two cores.
RESULT_INTERVAL_S = 1 / 30


class InferenceWorker(QThread):
    results = Signal(object)  # list[InspectionResult], oldest first
    frame_without_model = Signal(object, int)  # Frame, generation
    model_loading = Signal(str)
    model_loaded = Signal(object)  # the loaded model (for its meta and calibration)
    model_failed = Signal(str)
    error = Signal(str)

    def __init__(self, store: ModelStore, loader: Callable[[ModelStore, ModelRef], Any] = default_loader) -> None:
        super().__init__()
        self.store = store
        self.mailbox: LatestMailbox[tuple[int, Frame]] = LatestMailbox()
        self._loader = loader
        self._model: Any = None
        self._pending: ModelRef | None = None
        self._pending_threshold: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._unsent: list[InspectionResult] = []  # results not yet sent to the window (worker thread only)
        self._sent_at = 0.0
        #: Called in this thread with each result once it is sent or queued to be sent (the capture recorder);
        #: errors are reported.
        self.after_inspection: Callable[[InspectionResult], None] | None = None

    # -- called from the GUI thread ---------------------------------------------------------------------
    def request_model(self, ref: ModelRef) -> None:
        """Load ``ref`` in the worker thread (picked up within 0.1 s); the current model runs until then."""
        with self._lock:
            self._pending = ref

    def set_threshold(self, threshold: float) -> None:
        with self._lock:
            self._pending_threshold = threshold

    def stop(self) -> None:
        self._stop.set()
        self.mailbox.close()

    @property
    def model(self) -> Any:
        return self._model

    # -- thread body ------------------------------------------------------------------------------------
    def run(self) -> None:
        # Before any model loads: TensorFlow's compute threads, started from here, inherit these cores.
        place_current_thread("inference")
        while not self._stop.is_set():
            self._apply_pending()
            item = self.mailbox.take(timeout=0.1)
            result = None if item is None else self._handle(*item)
            if result is not None:
                self._unsent.append(result)
            # Send now when nothing else waits (a live frame is shown at once), else at most every interval.
            if self._unsent and (len(self.mailbox) == 0 or time.monotonic() - self._sent_at >= RESULT_INTERVAL_S):
                self._send()
            if result is not None:
                self._after_inspection(result)  # after sending: the verdict reaches the screen first
        self._send()

    def _send(self) -> None:
        if self._unsent:
            self.results.emit(self._unsent)
            self._unsent, self._sent_at = [], time.monotonic()

    def _handle(self, generation: int, frame: Frame) -> InspectionResult | None:
        if self._model is None:
            self.frame_without_model.emit(frame, generation)
            return None
        try:
            return self._inspect(frame, generation)
        except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the line
            log.exception("inspection failed")
            self.error.emit(f"frame {frame.index} ({frame.path or frame.source_id}): {type(exc).__name__}: {exc}")
            return None

    def _after_inspection(self, result: InspectionResult) -> None:
        hook = self.after_inspection
        if hook is None:
            return
        try:
            hook(result)
        except InspectorError as exc:  # a full disk, a broken database: said in words, the inspection goes on
            log.warning("frame %d was inspected but not recorded: %s", result.frame.index, exc)
            self.error.emit(f"frame {result.frame.index} was inspected but not recorded: {exc}")
        except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the inspection either
            log.exception("after-inspection hook failed")
            self.error.emit(f"frame {result.frame.index} was inspected but not recorded: {type(exc).__name__}: {exc}")

    def _apply_pending(self) -> None:
        with self._lock:
            ref, self._pending = self._pending, None
            threshold, self._pending_threshold = self._pending_threshold, None
        if ref is not None:
            self._send()  # the previous model's results reach the window before the news of a new model
            self.model_loading.emit(str(ref))
            try:
                model = self._loader(self.store, ref)
            except Exception as exc:  # noqa: BLE001 - the old model keeps running
                log.warning("model %s failed to load: %s", ref, exc)
                self.model_failed.emit(str(exc))
            else:
                self._model = model
                self.model_loaded.emit(model)
        if threshold is not None and self._model is not None:
            self._model.set_threshold(threshold)

    def _inspect(self, frame: Frame, generation: int) -> InspectionResult:
        model = self._model
        started = time.perf_counter()
        out = model.inspect(frame.image[None])
        latency = (time.perf_counter() - started) * 1000
        return InspectionResult(
            frame=frame,
            generation=generation,
            model=str(model.ref),
            model_name=model.ref.name,
            model_version=model.ref.version,
            score=float(out.scores[0]),
            normalised_score=float(out.normalised_scores[0]),
            threshold=float(model.calibration.threshold),
            failed=bool(out.failed[0]),
            anomaly_map=out.maps[0],
            map_kind=model.map_kind,
            latency_ms=latency,
            finished_at=time.time(),
            finished_monotonic=time.perf_counter(),
        )
