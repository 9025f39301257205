"""Out-of-fold scoring: every image is scored by a model that never saw it, and all are scored."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from inspector_app.core.demo_parts import render_part
from inspector_app.core.errors import TrainingCancelled
from inspector_app.detectors.autoencoder import AutoencoderDetector
from inspector_app.detectors.base import Progress, TrainingData
from inspector_app.detectors.common.folds import fold_assignment, out_of_fold_scores


def _numbered(count: int) -> np.ndarray:
    """Tiny images whose first pixel is their index, so a fake model can tell which ones it trained on."""
    images = np.zeros((count, 2, 2, 3), np.uint8)
    images[:, 0, 0, 0] = np.arange(count)
    return images


@pytest.mark.parametrize(("count", "folds"), [(10, 2), (11, 3), (25, 5)])
def test_folds_are_balanced_and_cover_every_image(count: int, folds: int) -> None:
    assignment = fold_assignment(count, folds, seed=0)
    sizes = np.bincount(assignment, minlength=folds)
    assert sizes.sum() == count and sizes.max() - sizes.min() <= 1
    np.testing.assert_array_equal(assignment, fold_assignment(count, folds, seed=0))  # seeded


def test_too_few_images_or_folds_are_refused() -> None:
    with pytest.raises(ValueError, match="two folds"):
        fold_assignment(5, 1, 0)
    with pytest.raises(ValueError, match="two folds"):
        fold_assignment(2, 3, 0)


def test_no_image_is_scored_by_a_model_that_trained_on_it() -> None:
    fitted: list[set[int]] = []

    def fit_member(images: np.ndarray, progress: Progress) -> Any:
        seen = {int(i) for i in images[:, 0, 0, 0]}
        fitted.append(seen)
        return lambda held: np.array([1.0 if int(i) in seen else 0.0 for i in held[:, 0, 0, 0]], np.float32)

    scores = out_of_fold_scores(_numbered(23), 4, seed=1, fit_member=fit_member, progress=Progress())
    assert len(fitted) == 4
    np.testing.assert_array_equal(scores, np.zeros(23))  # 1.0 would mean an image's own model scored it
    assert all(len(seen) in (17, 18) for seen in fitted)  # each member saw the other three folds


def test_cancel_between_folds_stops() -> None:
    progress = Progress()

    def fit_member(images: np.ndarray, member_progress: Progress) -> Any:
        progress.stop()
        assert member_progress.should_stop()  # a member's fit sees the run's cancel
        return lambda held: np.zeros(len(held), np.float32)

    with pytest.raises(TrainingCancelled):
        out_of_fold_scores(_numbered(8), 2, seed=0, fit_member=fit_member, progress=progress)


def test_autoencoder_scores_each_training_image_out_of_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    good = np.stack([render_part(i, 32)[0] for i in range(16)])
    config = {"image_size": 32, "epochs": 2, "base_filters": 8, "bottleneck": 8, "calibration_folds": 2}
    detector = AutoencoderDetector(config)
    detector.fit(TrainingData(good=good[:12], val_good=good[12:]), Progress())
    members: list[dict[str, Any]] = []
    real_fit = AutoencoderDetector.fit

    def recording_fit(self: AutoencoderDetector, data: TrainingData, progress: Progress) -> Any:
        members.append({"config": dict(self.config), "images": data.good.copy()})
        return real_fit(self, data, progress)

    monkeypatch.setattr(AutoencoderDetector, "fit", recording_fit)
    lines: list[dict[str, Any]] = []
    scores = detector.out_of_fold_scores(good[:12], Progress(lines.append))
    assert scores is not None and scores.shape == (12,) and np.isfinite(scores).all()
    assert len(members) == 2 and sum(len(m["images"]) for m in members) == 12
    # Six images each instead of twelve: twice the epochs, so as many gradient steps as the model itself.
    assert all(m["config"]["epochs"] == 2 * detector._epochs_kept and m["config"]["calibration_folds"] == 0
               for m in members)
    assert {line["stage"] for line in lines} == {"calibrate"}  # no second training curve in the wizard
    assert AutoencoderDetector({**config, "calibration_folds": 0}).out_of_fold_scores(good, Progress()) is None
