"""Measurement (not a test): why a false-alarm target and "F1 within 0.05 of the best" can disagree.

    python benchmarks/operating_point_tradeoff.py --data-dir D --model NAME[@VERSION] --data DATASET

Scores the dataset's test images with a trained model (each at its own size, as ``evaluate`` does) and prints,
as JSON: the false-alarm rate on the good test images, the defects caught and the F1 at the stored threshold
and at the threshold the held-out good images alone give for the same target (the calibration before
out-of-fold scores); the best F1 and the false-alarm rate it costs; the lowest false-alarm rate at which F1 is
still within 0.05 of the best; the F1 of failing every part; and how far the two score distributions overlap
(the share of defects scoring below the good parts' 99th percentile, per defect type).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core import metrics
from inspector_app.core.datasets import open_dataset
from inspector_app.core.images import load_image
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.operating_point import false_alarms_at, threshold_for_false_alarm_rate
from inspector_app.detectors.loaded_model import LoadedModel

#: How close to the best F1 the acceptance asks the stored threshold to be.
F1_MARGIN = 0.05


def point(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """F1, false alarms and catches at ``threshold``."""
    fail = scores >= threshold
    caught, alarms = int(np.sum(fail & labels)), int(np.sum(fail & ~labels))
    missed = int(np.sum(~fail & labels))
    return {"threshold": round(float(threshold), 3), "f1": round(2 * caught / max(2 * caught + alarms + missed, 1), 3),
            "false_alarms": false_alarms_at(scores[~labels], threshold).text(),
            "caught": f"{caught} of {int(labels.sum())}"}


def lowest_rate_near_best_f1(labels: np.ndarray, scores: np.ndarray, best: float) -> dict[str, Any]:
    """The highest threshold (fewest false alarms) whose F1 is within F1_MARGIN of the best."""
    for threshold in np.sort(np.unique(scores))[::-1]:
        found = point(labels, scores, threshold)
        if found["f1"] >= best - F1_MARGIN:
            return found
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--model", required=True, help="NAME[@VERSION]")
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    store = ModelStore(args.data_dir)
    name, _, version = args.model.partition("@")
    ref = ModelRef(name, version or store.versions(name)[-1])
    model = LoadedModel.load(store, ref)
    samples = open_dataset(args.data).evaluation_samples()
    scores = np.array([float(model.detector.infer(load_image(s.path)[None]).scores[0]) for s in samples])
    labels = np.array([s.label == "defect" for s in samples])
    types = np.array([s.defect_type for s in samples])
    calibration = model.calibration
    target = float(calibration.details.get("target_false_alarm_rate", 0.01))
    held_out = np.asarray(model.meta["validation_scores"]["good"], np.float64)
    held_out_threshold, how = threshold_for_false_alarm_rate(held_out, target)
    best_threshold, best = metrics.best_f1_threshold(labels, scores)
    good_p99 = float(np.quantile(scores[~labels], 0.99))
    figures = {
        "model": str(ref),
        "calibration": calibration.method,
        "good_scores_calibrated_on": calibration.details.get("good_count"),
        "image_auroc": round(metrics.image_auroc(labels, scores), 3),
        "stored threshold": point(labels, scores, calibration.threshold),
        "held-out good images only": {**point(labels, scores, held_out_threshold), "method": how},
        "best F1": point(labels, scores, best_threshold),
        f"fewest false alarms with F1 within {F1_MARGIN} of the best": lowest_rate_near_best_f1(labels, scores, best),
        "F1 when every part fails": round(2 * labels.sum() / (2 * labels.sum() + (~labels).sum()), 3),
        "defects below the good test images' 99th percentile": {
            kind: f"{int(np.sum(scores[types == kind] < good_p99))} of {int(np.sum(types == kind))}"
            for kind in sorted(set(types[labels]))},
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
