"""Evaluate a saved model on a labelled dataset: image and pixel metrics, per defect type, at its threshold.

Images are inspected at their own resolution, as the operator's camera delivers them; pixel metrics are
computed with maps and masks resized to one common grid so every image weighs the same.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from inspector_app.core import metrics
from inspector_app.core.datasets import Dataset, Sample, files_seen_in_training, open_dataset
from inspector_app.core.errors import DatasetError, ImageLoadError
from inspector_app.core.images import load_image, load_mask, resize, resize_map
from inspector_app.core.operating_point import rate_estimate
from inspector_app.detectors.loaded_model import LoadedModel

log = logging.getLogger(__name__)
PIXEL_GRID = 256


@dataclass
class EvaluationResult:
    """Figures for the metrics table and for ``meta.json``."""

    model: str
    dataset: str
    counts: dict[str, int]
    image_auroc: float
    per_type_auroc: dict[str, float]
    pixel_auroc: float | None
    aupro: float | None
    threshold: float
    confusion: dict[str, Any]
    best_f1: dict[str, float]
    seconds: float
    #: At the stored threshold and at the best-F1 threshold: F1, and false-alarm and miss rates with intervals.
    operating_points: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    #: Dice and IoU of the regions drawn at 1.0 on the map's scale (the threshold for an anomaly map, the
    #: contour for a mask) against the true masks; empty when the data has no masks.
    mask_overlap: dict[str, float] = field(default_factory=dict)
    #: Images scored, and images of this dataset left out because the model was fitted or validated on them.
    scored: int = 0
    left_out: int = 0

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def evaluate(
    model: LoadedModel,
    data_path: str,
    progress: Callable[[int, int], None] | None = None,
    same_size: bool = False,
) -> EvaluationResult:
    """Inspect every evaluation image of ``data_path`` that the model never learned from, and compute the metrics.

    ``same_size`` resizes images to the model's input first (faster: batches of 8); by default each image
    is inspected at its native size, one at a time.
    """
    started = time.monotonic()
    dataset = open_dataset(data_path)
    samples, left_out = unseen_samples(model.meta, dataset)
    if left_out:
        log.info("%s: scoring %d image(s); left out %d the model was trained or validated on",
                 data_path, len(samples), left_out)
    if not any(s.label == "defect" for s in samples) or not any(s.label == "good" for s in samples):
        held = f" after leaving out {left_out} image(s) the model was trained or validated on" if left_out else ""
        msg = f"{data_path}: evaluation needs both good and defect images{held}; found {dataset.counts()}"
        raise DatasetError(msg)
    kept, scores, maps, masks, skipped = _inspect_all(model, samples, progress, same_size)
    labels = np.array([s.label == "defect" for s in kept])
    types = [s.defect_type for s in kept]
    have_masks = any(s.mask_path is not None for s in kept)
    pixel_auc = aupro = None
    overlap: dict[str, float] = {}
    if have_masks:
        mask_stack, map_stack = np.stack(masks), np.stack(maps)
        pixel_auc = metrics.pixel_auroc(mask_stack, map_stack)
        aupro = metrics.aupro(mask_stack, map_stack)
        drawn = model.calibration.normalise_maps(map_stack) >= 1.0
        overlap = metrics.mask_overlap(mask_stack, drawn).to_json()
    threshold = model.calibration.threshold
    confusion = metrics.confusion_at(labels, scores, threshold)
    f1_threshold, f1 = metrics.best_f1_threshold(labels, scores)
    points = {"stored threshold": _operating_point(confusion, threshold),
              "best F1": _operating_point(metrics.confusion_at(labels, scores, f1_threshold), f1_threshold)}
    target = model.calibration.details.get("target_false_alarm_rate")
    if target is not None and model.calibration.details.get("objective") == "false_alarm_rate":
        points["stored threshold"]["target_false_alarm_rate"] = float(target)
    # What calibration promised at this threshold, so a shift between its images and these shows at once.
    points["stored threshold"]["expected"] = {k: model.calibration.details.get(k) for k in ("false_alarms", "misses")}
    return EvaluationResult(
        model=str(model.ref),
        dataset=str(data_path),
        counts=dataset.counts(),
        image_auroc=metrics.image_auroc(labels, scores),
        per_type_auroc=metrics.per_type_auroc(types, scores),
        pixel_auroc=pixel_auc,
        aupro=aupro,
        threshold=threshold,
        confusion={
            "true_pass": confusion.true_pass, "false_alarm": confusion.false_alarm,
            "missed": confusion.missed, "caught": confusion.caught,
            "false_alarm_rate": confusion.false_alarm_rate, "miss_rate": confusion.miss_rate,
        },
        best_f1={"threshold": f1_threshold, "f1": f1},
        seconds=round(time.monotonic() - started, 2),
        skipped=skipped,
        operating_points=points,
        mask_overlap=overlap,
        scored=len(kept),
        left_out=left_out,
    )


def unseen_samples(meta: dict[str, Any], dataset: Dataset) -> tuple[list[Sample], int]:
    """The images of ``dataset`` to score, and how many were left out because training saw them.

    A model with a split record (families that learn from defects) is scored on every labelled image except
    the ones it fitted or validated on when this is its training dataset, and on every image of any other
    dataset. Other models keep the dataset's own evaluation images (MVTec ``test/``, or all of a plain one).
    """
    record = meta.get("split") or {}
    if not record:
        return dataset.evaluation_samples(), 0
    seen = files_seen_in_training(record, dataset.root)
    if seen is None:
        return list(dataset.samples), 0
    root = dataset.root
    unseen = [s for s in dataset.samples if s.path.relative_to(root).as_posix() not in seen]
    return unseen, len(dataset.samples) - len(unseen)


def _operating_point(counts: metrics.Confusion, threshold: float) -> dict[str, Any]:
    """F1 and the two error rates (with 95 % intervals) of the verdicts ``counts`` holds at ``threshold``."""
    f1 = 2 * counts.caught / max(2 * counts.caught + counts.false_alarm + counts.missed, 1)
    return {"threshold": float(threshold), "f1": f1,
            "false_alarms": rate_estimate(counts.false_alarm, counts.false_alarm + counts.true_pass).to_json(),
            "misses": rate_estimate(counts.missed, counts.missed + counts.caught).to_json()}


def _inspect_all(
    model: LoadedModel,
    samples: list[Sample],
    progress: Callable[[int, int], None] | None,
    same_size: bool,
) -> tuple[list[Sample], np.ndarray, list[np.ndarray], list[np.ndarray], list[str]]:
    size = model.detector.image_size
    kept: list[Sample] = []
    images: list[np.ndarray] = []
    skipped: list[str] = []
    scores: list[float] = []
    maps: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    batch = 8 if same_size else 1

    def flush() -> None:
        out = model.detector.infer(np.stack(images))
        maps.extend(resize_map(m, PIXEL_GRID, PIXEL_GRID) for m in out.maps)
        scores.extend(float(s) for s in out.scores)
        images.clear()

    for i, sample in enumerate(samples):
        try:
            image = load_image(sample.path)
            # Read with its image: a damaged mask skips that one sample instead of aborting the evaluation.
            mask = load_mask(sample.mask_path, (PIXEL_GRID, PIXEL_GRID)) if sample.mask_path else None
        except ImageLoadError as exc:
            skipped.append(str(exc))
            log.warning("skipped %s: %s", sample.path.name, exc)
            continue
        images.append(resize(image, size) if same_size else image)
        masks.append(mask if mask is not None else np.zeros((PIXEL_GRID, PIXEL_GRID), bool))
        kept.append(sample)
        if len(images) == batch:
            flush()
        if progress:
            progress(i + 1, len(samples))
    if images:
        flush()
    return kept, np.array(scores), maps, masks, skipped


def _rate_text(estimate: dict[str, Any]) -> str:
    return rate_estimate(int(estimate["count"]), int(estimate["total"])).text()


def format_table(result: EvaluationResult) -> str:
    """The metrics as a plain-text table for the terminal."""

    def fmt(value: float | None) -> str:
        return "—" if value is None or value != value else f"{value:.3f}"

    c = result.confusion
    lines = [
        f"model {result.model} on {result.dataset}  ({result.seconds:.1f} s)",
        f"  scored {result.scored} image(s); left out {result.left_out} the model was trained or validated on",
        f"  {'image AUROC':<28}{fmt(result.image_auroc)}",
        f"  {'pixel AUROC':<28}{fmt(result.pixel_auroc)}",
        f"  {'AUPRO (FPR ≤ 0.3)':<28}{fmt(result.aupro)}",
    ]
    if result.mask_overlap:
        o = result.mask_overlap
        lines += [f"  {'Dice / IoU of drawn regions':<28}{fmt(o['dice'])} / {fmt(o['iou'])}  (mean IoU of "
                  f"{o['defect_images']} masked defect images {fmt(o['mean_defect_iou'])})"]
    lines += [f"  {'  AUROC ' + kind:<28}{fmt(v)}" for kind, v in result.per_type_auroc.items()]
    lines += [
        f"  {'threshold':<28}{result.threshold:.5g}",
        f"  {'false alarms':<28}{c['false_alarm']} of {c['false_alarm'] + c['true_pass']} good ({c['false_alarm_rate']:.1%})",
        f"  {'missed defects':<28}{c['missed']} of {c['missed'] + c['caught']} ({c['miss_rate']:.1%})",
        f"  {'best F1':<28}{result.best_f1['f1']:.3f} at threshold {result.best_f1['threshold']:.5g}",
    ]
    for name, point in result.operating_points.items():
        target = point.get("target_false_alarm_rate")
        aim = f" (target {100 * target:g} %)" if target is not None else ""
        lines += [
            f"  at {name} {point['threshold']:.5g}: F1 {point['f1']:.3f}",
            f"  {'    false alarms':<28}{_rate_text(point['false_alarms'])}{aim}",
            f"  {'    missed defects':<28}{_rate_text(point['misses'])}",
        ]
        expected = point.get("expected") or {}
        lines += [f"  {'    calibration expected':<28}{what} {_rate_text(expected[key])}"
                  for key, what in (("false_alarms", "false alarms"), ("misses", "misses")) if expected.get(key)]
    if result.skipped:
        lines.append(f"  skipped {len(result.skipped)} unreadable file(s): " + "; ".join(result.skipped[:5]))
    return "\n".join(lines)
