"""Retraining from the review queue: what to train the next version on, and whether it is better.

The operator's decisions are the new training material. A part the model flagged and the operator marked a
false alarm (or good) is a good image the training data lacked; the retrained version should pass it. This
module turns the active version's recorded training spec plus those captures into the training wizard's
starting point, and scores the old and the new version on every reviewed capture, so "better" is a count of
false alarms and misses before and after rather than a feeling. No Qt: the CLI and tests use it too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from inspector_app.core.calibration import DEFAULT_CATCH_SHARE, DEFAULT_FALSE_ALARM_RATE
from inspector_app.core.captures import CaptureRecord, CaptureStore
from inspector_app.core.errors import ImageLoadError, InspectorError
from inspector_app.core.images import load_image
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.detectors.base import DEFECT
from inspector_app.detectors.registry import detector_class
from inspector_app.jobs.training_spec import TrainingSpec

log = logging.getLogger(__name__)

#: Decisions whose records say what the right verdict was: PASS for these ...
SHOULD_PASS = ("good", "false_alarm")
#: ... and FAIL for this one.
SHOULD_FAIL = ("defect",)
CHUNK = 16


class RetrainError(InspectorError):
    """There is nothing to retrain from (no active model, or its metadata lacks what is needed)."""


class Inspects(Protocol):
    """What ``compare_on_captures`` needs of a model: ``LoadedModel`` and test fakes both fit."""

    ref: ModelRef

    def inspect(self, images: np.ndarray) -> Any: ...


def _needs_defects(family: str, meta: dict[str, Any]) -> bool:
    """Whether ``family`` learns from defect images; a family that does not import is judged by its data."""
    try:
        return DEFECT in detector_class(family).needs
    except (ValueError, ImportError):
        return bool(meta.get("training_data", {}).get("train_defect"))


def _existing(paths: list[Path]) -> list[str]:
    found = [str(p) for p in paths if p.is_file()]
    if len(found) < len(paths):
        log.warning("%d captured image(s) are missing on disk and are left out", len(paths) - len(found))
    return found


def retrain_spec_from_captures(store: ModelStore, captures: CaptureStore,
                               active_ref: ModelRef | None = None) -> TrainingSpec:
    """The training wizard's starting spec for "retrain from captures": the active version's data plus captures.

    Family, dataset folders, settings, validation share and seed come from the version's
    ``meta["training_spec"]``; ``extra_good`` holds every capture decided ``good`` or ``false_alarm``; the
    name stays the same, so the result is the next version of the same model. For a family that learns from
    defects, ``extra_defect`` holds the confirmed defects, which training adds to its defect images.

    Args:
        store: the model store holding ``active_ref``.
        captures: the capture store with the operator's decisions.
        active_ref: the version to start from; ``None`` takes the store's active version.

    Raises:
        RetrainError: no version to start from.
    """
    ref = active_ref or store.active()
    if ref is None:
        msg = "no active model version to retrain: train one first (Train ▸ Training wizard)"
        raise RetrainError(msg)
    meta = store.meta(ref)
    recorded = meta.get("training_spec") or {}
    family = str(recorded.get("family") or meta.get("family") or "")
    if not family:
        msg = f"model {ref} records no family in its metadata, so it cannot be retrained from captures"
        raise RetrainError(msg)
    data = [str(d) for d in recorded.get("data") or meta.get("training_data", {}).get("datasets", [])]
    missing = [d for d in data if not Path(d).exists()]
    if missing:
        log.warning("the training data of %s is no longer at %s", ref, ", ".join(missing))
    spec = TrainingSpec(
        family=family,
        data=data,
        name=ref.name,
        config=dict(recorded.get("config") or meta.get("config") or {}),
        val_fraction=float(recorded.get("val_fraction", 0.2)),
        test_fraction=float(recorded.get("test_fraction", 0.2)),
        seed=int(recorded.get("seed", 0)),
        # The operator's trade-off survives a retrain: a line that budgets 0.5 % false alarms keeps that budget.
        threshold_objective=str(recorded.get("threshold_objective") or ""),
        target_false_alarm_rate=float(recorded.get("target_false_alarm_rate", DEFAULT_FALSE_ALARM_RATE)),
        catch_share=float(recorded.get("catch_share", DEFAULT_CATCH_SHARE)),
        notes=f"retrained from {ref} with reviewed captures",
        extra_good=_existing(captures.good_image_paths()),
        extra_defect=_existing(captures.defect_image_paths()) if _needs_defects(family, meta) else [],
    )
    log.info("retrain %s: %d dataset(s), %d captured good and %d confirmed defect image(s)", ref, len(data),
             len(spec.extra_good), len(spec.extra_defect))
    return spec


@dataclass
class _Tally:
    false_alarms: int = 0  # should pass, failed
    misses: int = 0  # should fail, passed

    def add(self, failed: np.ndarray, should_fail: np.ndarray) -> None:
        self.false_alarms += int(np.sum(failed & ~should_fail))
        self.misses += int(np.sum(~failed & should_fail))


def _chunks(records: list[CaptureRecord], skipped: list[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Images (same size within a chunk) and their expected verdicts; unreadable files go to ``skipped``."""
    images: list[np.ndarray] = []
    expected: list[bool] = []
    for record in records:
        try:
            image = load_image(record.image_path)
        except ImageLoadError as exc:
            skipped.append(f"capture {record.id}: {exc}")
            continue
        if images and (image.shape != images[0].shape or len(images) == CHUNK):
            yield np.stack(images), np.array(expected)
            images, expected = [], []
        images.append(image)
        expected.append(record.decision in SHOULD_FAIL)
    if images:
        yield np.stack(images), np.array(expected)


def compare_on_captures(old_model: Inspects, new_model: Inspects, captures: CaptureStore, **filters: Any) -> dict:
    """False alarms and misses of two versions on every reviewed capture.

    A capture decided ``good`` or ``false_alarm`` should PASS; one decided ``defect`` should FAIL. Both
    models see the same images, a chunk at a time.

    Args:
        old_model: the version running now.
        new_model: the candidate.
        captures: the capture store.
        **filters: narrow the records as ``CaptureStore.query`` does (``model_version``, ``since``, ...).

    Returns:
        ``{"good": n, "defects": n, "skipped": [...], "old": {"model", "false_alarms", "misses"}, "new": {...}}``
        where ``good`` and ``defects`` count the images that should pass and fail.
    """
    records = captures.query(order="oldest", decisions=SHOULD_PASS + SHOULD_FAIL, **filters)
    tallies = {"old": _Tally(), "new": _Tally()}
    skipped: list[str] = []
    good = defects = 0
    for images, should_fail in _chunks(records, skipped):
        defects += int(should_fail.sum())
        good += int((~should_fail).sum())
        for key, model in (("old", old_model), ("new", new_model)):
            tallies[key].add(np.asarray(model.inspect(images).failed, bool), should_fail)
    result: dict[str, Any] = {"good": good, "defects": defects, "skipped": skipped}
    for key, model in (("old", old_model), ("new", new_model)):
        result[key] = {"model": str(model.ref), "false_alarms": tallies[key].false_alarms,
                       "misses": tallies[key].misses}
    log.info("on %d reviewed captures: %s", good + defects, {k: result[k] for k in ("old", "new")})
    return result
