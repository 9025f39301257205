"""Keeps inspection results in the capture store without slowing the window down.

Writing a capture means encoding a PNG and flushing it to disk: tens of milliseconds for a camera frame.
That must never happen on the GUI thread, which paints at display rate. Inspection results are recorded by
the inference worker's ``after_inspection`` hook (in the worker thread, after the result was emitted, so the
verdict reaches the screen first); manual "capture as good" requests run on a one-thread executor. The
review panel learns about new records through ``recorded`` (a queued signal) and reads them from SQLite.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from inspector_app.core.captures import CaptureRecord, CaptureStore, CaptureStoreBusy
from inspector_app.core.sources import Frame

if TYPE_CHECKING:
    from inspector_app.gui.inference_worker import InferenceWorker, InspectionResult

log = logging.getLogger(__name__)

#: Results kept for another try while another program holds the database locked (a few MB each at most).
MAX_WAITING = 16
#: A problem that repeats on every frame (a locked database) is reported at most this often.
REPORT_EVERY_S = 5.0


def source_name(frame: Frame) -> str:
    """What the capture store records as the source: the file for folder frames, else the source id."""
    return frame.path or frame.source_id


class CaptureRecorder(QObject):
    """Records flagged frames (and the store's PASS sample) from the worker thread; stores manual captures.

    Args:
        captures: the capture store; it is thread-safe.
        parent: the owning QObject (the window).
    """

    #: A record was written (its id); emitted from the thread that wrote it, delivered queued.
    recorded = Signal(int)
    #: A manual capture could not be stored (the reason).
    failed = Signal(str)

    def __init__(self, captures: CaptureStore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.captures = captures
        self._manual = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capture-good")
        self._waiting: deque[InspectionResult] = deque()  # kept while the database is locked (worker thread only)
        self.lost = 0  # results dropped because the database stayed locked for more than MAX_WAITING frames
        self._reported_at = -REPORT_EVERY_S

    def attach(self, worker: InferenceWorker) -> None:
        """Make ``worker`` call this recorder after each inspection (set before the worker starts)."""
        worker.after_inspection = self.record_result

    def record_result(self, result: InspectionResult) -> CaptureRecord | None:
        """Store one result if the store keeps it (every FAIL, a sample of PASS); runs in the worker thread.

        While another program keeps the database locked, results wait (up to ``MAX_WAITING``, oldest dropped
        and counted in ``lost``) and are stored with the next frame; each try waits a fraction of a second, so
        the worker keeps inspecting. Other errors (a full disk) propagate: the worker reports them in the
        window's log and goes on.
        """
        if not self.captures.should_keep(result.failed):
            return None
        if len(self._waiting) == MAX_WAITING:
            self._waiting.popleft()
            self.lost += 1
        self._waiting.append(result)
        return self.store_waiting()

    def store_waiting(self) -> CaptureRecord | None:
        """Store the results kept while the database was locked, oldest first; the last one stored, or None."""
        stored = None
        while self._waiting:
            try:
                stored = self._store(self._waiting[0])
            except CaptureStoreBusy as exc:
                now = time.monotonic()
                if now - self._reported_at >= REPORT_EVERY_S:
                    self._reported_at = now
                    self.failed.emit(f"{exc}; {len(self._waiting)} frame(s) wait to be recorded, "
                                     f"{self.lost} dropped so far")
                return None
            except Exception:
                self._waiting.popleft()  # not retried: a full disk stays full for this frame
                raise
            self._waiting.popleft()
        return stored

    def _store(self, result: InspectionResult) -> CaptureRecord:
        stored = self.captures.record(
            result.frame.image,
            source=source_name(result.frame),
            frame_index=result.frame.index,
            model_name=result.model_name,
            model_version=result.model_version,
            score=result.score,
            normalised_score=result.normalised_score,
            threshold=result.threshold,
            failed=result.failed,
            anomaly_map=result.anomaly_map,
            captured_at=result.finished_at,  # when it was inspected, also when it waited for a locked database
        )
        self.recorded.emit(stored.id)
        return stored

    def capture_good(self, frame: Frame, result: InspectionResult | None = None) -> Future:
        """Store ``frame`` as a known-good image in the background; ``result`` adds its model and scores."""
        return self._manual.submit(self._store_good, frame, result)

    def _store_good(self, frame: Frame, result: InspectionResult | None) -> CaptureRecord | None:
        scores = {}
        if result is not None and result.frame is frame:
            scores = {"model_name": result.model_name, "model_version": result.model_version,
                      "score": result.score, "normalised_score": result.normalised_score,
                      "threshold": result.threshold}
        try:
            stored = self.captures.capture_good(frame.image, source=source_name(frame), frame_index=frame.index,
                                                **scores)
        except Exception as exc:  # noqa: BLE001 - reported in the window's log instead of lost in a thread
            log.exception("capture as good failed")
            self.failed.emit(f"could not store frame {frame.index} as good: {type(exc).__name__}: {exc}")
            return None
        self.recorded.emit(stored.id)
        return stored

    def shutdown(self) -> None:
        """Finish pending manual captures and try once more to store frames kept while the database was locked
        (the worker must be stopped first: it may be recording)."""
        self._manual.shutdown(wait=True)
        try:
            self.store_waiting()
        except Exception:  # noqa: BLE001 - closing must go on; the reason is logged
            log.exception("storing the frames kept for later failed")
        if self._waiting:
            log.warning("%d captured frame(s) not recorded: the capture database stayed locked", len(self._waiting))
