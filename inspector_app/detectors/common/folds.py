"""Out-of-fold scores for families that learn by gradient descent: k models, each fitted without one fold.

A family whose model remembers its training images (an autoencoder redraws them better than new parts) cannot
score those images honestly. Split the good images into ``folds`` groups; for each group fit a model of the
same settings on the other groups and score the group with it. Every training image then has a score from a
model that never saw it, so the threshold rests on every good image instead of the small held-out slice.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from inspector_app.core.errors import TrainingCancelled
from inspector_app.detectors.base import Progress

#: fit_member(images, progress) fits a fresh model on ``images`` and returns how that model scores other images.
FitMember = Callable[[np.ndarray, Progress], Callable[[np.ndarray], np.ndarray]]


def fold_assignment(count: int, folds: int, seed: int) -> np.ndarray:
    """The fold (0 … folds−1) of each of ``count`` images: shuffled, sizes differing by at most one.

    Raises:
        ValueError: fewer than two folds, or fewer images than folds.
    """
    if folds < 2 or count < folds:
        msg = f"out-of-fold scoring needs at least two folds and an image per fold, got {folds} folds for {count}"
        raise ValueError(msg)
    order = np.random.default_rng(seed).permutation(count)
    assignment = np.empty(count, np.int64)
    assignment[order] = np.arange(count) % folds
    return assignment


def out_of_fold_scores(images: np.ndarray, folds: int, seed: int, fit_member: FitMember,
                       progress: Progress) -> np.ndarray:
    """Each image's score from the member fitted on the other folds (same order as ``images``)."""
    assignment = fold_assignment(len(images), folds, seed)
    scores = np.full(len(images), np.nan, np.float32)
    for fold in range(folds):
        held = assignment == fold
        member_progress = _FoldProgress(progress, fold, folds)
        score = fit_member(images[~held], member_progress)
        if progress.should_stop():
            raise TrainingCancelled("training cancelled while calibrating")
        scores[held] = score(images[held])
        progress(stage="calibrate", fraction=(fold + 1) / folds,
                 message=f"fold {fold + 1} of {folds} scored ({int(held.sum())} good images)")
    return scores


class _FoldProgress(Progress):
    """A member's progress shown as one calibration step (not as a second training curve); cancel follows the
    run's own."""

    def __init__(self, parent: Progress, fold: int, folds: int) -> None:
        super().__init__()
        self._parent, self._fold, self._folds = parent, fold, folds

    def __call__(self, **fields: Any) -> None:
        epoch, epochs = fields.get("epoch"), fields.get("epochs")
        inner = epoch / epochs if epoch is not None and epochs else fields.get("fraction", 0.0) or 0.0
        what = f"epoch {epoch} of {epochs}" if epoch is not None else fields.get("message", fields.get("stage", ""))
        self._parent(stage="calibrate", fraction=(self._fold + float(inner)) / self._folds,
                     message=f"fold {self._fold + 1} of {self._folds}: fitting without it, {what}")

    def should_stop(self) -> bool:
        return self._parent.should_stop()
