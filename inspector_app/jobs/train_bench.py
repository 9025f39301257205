"""Training speed per family: seconds per epoch (or seconds per fit) on a real dataset, on this machine.

The wizard's time estimate is only as good as the constant behind it; this measures that constant and tells
an engineer what a full training will cost before starting one. Figures are printed, never asserted. The
machine's load average is recorded with them, because another busy process makes every figure slower.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from inspector_app.detectors.common import runtime
from inspector_app.detectors.base import Progress
from inspector_app.detectors.registry import FAMILIES, detector_class
from inspector_app.jobs.training import load_training_data, split_for
from inspector_app.jobs.training_spec import TrainingSpec

log = logging.getLogger(__name__)


def bench_family(
    kind: str, data: str | Path, epochs: int = 2, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train ``kind`` briefly on ``data`` and time it.

    Args:
        kind: a registered family.
        data: a dataset folder (MVTec or plain layout).
        epochs: epochs to run for families that train by epochs (early stopping is turned off).
        overrides: settings that replace the family's defaults (e.g. ``{"image_size": 64}``).

    Returns:
        Figures: image size, training images, first-epoch and steady seconds per epoch (epoch families) or
        fit seconds (families without epochs), load seconds, the load average before and after, and the fit
        report's details.
    """
    family = detector_class(kind)
    config = {**family.default_config(), **(overrides or {})}
    if "epochs" in config:
        config["epochs"] = epochs
    if "early_stopping" in config:
        config["early_stopping"] = 0
    detector = family(config)
    spec = TrainingSpec(kind, [str(data)], "bench", config)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    training = load_training_data(detector, split_for(spec, detector), spec, Progress())
    training.summary.pop("val_files", None)
    loaded = time.perf_counter()
    epoch_marks: list[float] = []

    def record(fields: dict[str, Any]) -> None:
        if fields.get("stage") == "train" and fields.get("epoch"):
            epoch_marks.append(float(fields.get("seconds") or 0.0))

    report = detector.fit(training, Progress(record))
    fitted = time.perf_counter()
    figures: dict[str, Any] = {
        "family": kind,
        "image_size": detector.image_size,
        "train_images": int(len(training.good)) + int(0 if training.defect is None else len(training.defect)),
        "load_seconds": round(loaded - started, 2),
        "fit_seconds": round(fitted - loaded, 2),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        # The family's own account of the fit (the metric family's feature seconds, the U-Net's tiles per epoch).
        "details": report.details,
    }
    if epoch_marks:
        steps = [b - a for a, b in zip([0.0, *epoch_marks], epoch_marks)]
        figures["epochs"] = len(steps)
        figures["first_epoch_seconds"] = round(steps[0], 2)
        figures["seconds_per_epoch"] = round(sum(steps[1:]) / len(steps[1:]) if len(steps) > 1 else steps[0], 2)
    return figures


def bench_training(data: str | Path, families: list[str] | None = None, epochs: int = 2) -> dict[str, Any]:
    """``bench_family`` for each family (every registered one by default); a family that fails is reported."""
    results: list[dict[str, Any]] = []
    for kind in families or list(FAMILIES):
        try:
            results.append(bench_family(kind, data, epochs))
        except Exception as exc:  # noqa: BLE001 - one broken family must not hide the others' figures
            log.warning("training bench of %s failed: %s", kind, exc)
            results.append({"family": kind, "error": f"{type(exc).__name__}: {exc}"})
    return {"data": str(data), "device": runtime.device_summary(), "cpu_count": os.cpu_count(), "families": results}


def format_training_bench(report: dict[str, Any]) -> str:
    """The report as a few lines for the terminal."""
    lines = [f"training speed on {report['data']} ({report['device']})"]
    for row in report["families"]:
        if "error" in row:
            lines.append(f"  {row['family']:<14} failed: {row['error']}")
            continue
        head = f"  {row['family']:<14} {row['image_size']} px, {row['train_images']} training images:"
        if "seconds_per_epoch" in row:
            speed = f" {row['seconds_per_epoch']:.1f} s per epoch (first epoch {row['first_epoch_seconds']:.1f} s)"
        else:
            speed = f" fit {row['fit_seconds']:.1f} s (no epochs)"
        load = (f"; loading {row['load_seconds']:.1f} s; "
                f"load average {row['load_average_before']:.1f}→{row['load_average_after']:.1f}")
        lines.append(head + speed + load)
    return "\n".join(lines)
