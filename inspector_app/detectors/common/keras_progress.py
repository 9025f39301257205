"""A Keras callback that reports epochs to a :class:`~inspector_app.detectors.base.Progress` and honours cancel.

Shared by every Keras-trained family so the CLI's JSON progress lines and the wizard's curves look the same.
Cancel sets ``model.stop_training`` after the current batch; the family then raises ``TrainingCancelled``.
"""

from __future__ import annotations

import math
import time
from typing import Any

from inspector_app.detectors.common import runtime
from inspector_app.detectors.base import Progress


def make_progress_callback(progress: Progress, epochs: int) -> Any:
    """Build the callback lazily (Keras is imported only when training starts)."""
    keras = runtime.keras()

    class ProgressCallback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.cancelled = False
            self._started = 0.0

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self._started = time.monotonic()
            progress(stage="train", epoch=0, epochs=epochs, message="training started")

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if progress.should_stop():
                self.cancelled = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            logs = logs or {}
            done = epoch + 1
            elapsed = time.monotonic() - self._started
            eta = elapsed / done * (epochs - done)
            progress(
                stage="train",
                epoch=done,
                epochs=epochs,
                loss=_finite(logs.get("loss")),
                val_loss=_finite(logs.get("val_loss")),
                seconds=round(elapsed, 2),
                eta=round(eta, 1),
            )
            if progress.should_stop():
                self.cancelled = True
                self.model.stop_training = True

    return ProgressCallback()


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
