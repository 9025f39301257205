"""Dev measurement (not a test): the metric family's image AUROC for every head × scoring pair, one table.

    python benchmarks/metric_heads.py --data ../shared/data/magnetic_tile
    python benchmarks/metric_heads.py --data ../shared/data/magnetic_tile --image-size 160 --epochs 10

Uses the training job's split (``split_validation``, 20 % of ``train/good`` held out, seed 0): the embedding
is trained on the other 80 %, the held-out good images only calibrate (1 % false-alarm target, as
``inspector-app train`` does), and every ``test/*`` image is scored. The synthetic training set and its
frozen features are computed once and shared by the three heads; each head is trained once and its
embeddings are scored all three ways (scoring is numpy/scikit-learn after the network). A control row scores
the frozen features alone (globally averaged, no training), to show what the learned embedding adds.
Times are wall clock and this process's CPU seconds on whatever machine runs it (say whether it was shared).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from inspector_app.core.calibration import calibrate
from inspector_app.core.datasets import load_images, open_dataset, split_validation
from inspector_app.core.metrics import image_auroc, per_type_auroc
from inspector_app.detectors.base import Progress
from inspector_app.detectors.metric import MetricDetector
from inspector_app.detectors.metric.detector import HEADS
from inspector_app.detectors.metric.scoring import SCORINGS, EmbeddingScorer

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "magnetic_tile"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--heads", default=",".join(HEADS))
    parser.add_argument("--set", action="append", default=[], help="another setting, key=JSON value")
    args = parser.parse_args(argv)
    config = {"image_size": args.image_size, "epochs": args.epochs}
    config.update({k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)})
    dataset = open_dataset(args.data)
    train, val = split_validation(dataset.training_samples(), 0.2, 0)
    test = dataset.evaluation_samples()
    started = time.monotonic()
    good, _ = load_images(train, args.image_size)
    val_good, _ = load_images(val, args.image_size)
    test_images, test_loaded = load_images(test, args.image_size)
    types = [s.defect_type for s in test_loaded]
    labels = np.array([t != "good" for t in types])
    print(f"loaded {len(good)} training, {len(val_good)} held-out good and {len(test_images)} test images "
          f"({labels.sum()} defective) in {time.monotonic() - started:.0f} s")
    first = MetricDetector({**config, "head": args.heads.split(",")[0]})
    cpu_before = cpu_seconds()
    features = first.training_features(good, Progress())
    print(f"synthetic set and frozen features: {len(features.labels)} images in {features.seconds:.0f} s "
          f"({cpu_seconds() - cpu_before:.0f} CPU s)")
    extract = first.networks()["features"]
    test_maps = np.concatenate([extract(first._prepare(test_images[i : i + 16]), training=False).numpy()
                                for i in range(0, len(test_images), 16)])
    val_maps = np.concatenate([extract(first._prepare(val_good[i : i + 16]), training=False).numpy()
                               for i in range(0, len(val_good), 16)])
    rows = []

    def score_all(head: str, normal: np.ndarray, test_embeddings: np.ndarray, val_embeddings: np.ndarray,
                  train_seconds: float, cpu_seconds: float) -> None:
        for scoring in SCORINGS:
            scorer = EmbeddingScorer(scoring, normal, int(first.config["lof_neighbours"]))
            scores, val_scores = scorer.scores(test_embeddings), scorer.scores(val_embeddings)
            failed = calibrate(val_scores, np.zeros(0)).verdicts(scores)
            rows.append({"head": head, "scoring": scoring, "auroc": image_auroc(labels, scores),
                         "train_s": train_seconds, "cpu_s": cpu_seconds, "caught": int(failed[labels].sum()),
                         "false_alarms": int(failed[~labels].sum()), "per_type": per_type_auroc(types, scores)})

    def pooled(maps: np.ndarray) -> np.ndarray:
        return maps.mean(axis=(1, 2))

    score_all("none (frozen features, averaged)", pooled(features.features[features.labels == 0]),
              pooled(test_maps), pooled(val_maps), 0.0, 0.0)
    for head in args.heads.split(","):
        detector = MetricDetector({**config, "head": head})
        cpu_before = cpu_seconds()
        report = detector.fit_features(features, Progress())
        train_seconds, cpu = report.seconds - features.seconds, cpu_seconds() - cpu_before
        network = detector._network
        test_embeddings = np.concatenate([network.embed_and_explain(test_maps[i : i + 16])[0]
                                          for i in range(0, len(test_maps), 16)])
        score_all(head, detector._normal, test_embeddings, network.embed_and_explain(val_maps)[0], train_seconds, cpu)
        print(f"{head}: trained in {train_seconds:.0f} s ({cpu:.0f} CPU s)", flush=True)
    print(f"\nimage size {args.image_size}, {args.epochs} epochs, backbone {first.config['backbone']}, "
          f"{len(good)} training images, features {features.seconds:.0f} s (shared by every head)\n")
    print("| head | scoring | image AUROC | head training: wall s (CPU s) | caught at 1 % FA target | "
          "false alarms (test/good) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['head']} | {r['scoring']} | {r['auroc']:.3f} | {r['train_s']:.0f} ({r['cpu_s']:.0f}) | "
              f"{r['caught']} of {labels.sum()} | {r['false_alarms']} of {(~labels).sum()} |")
    best = max(rows[len(SCORINGS):], key=lambda r: r["auroc"])
    print(f"\nbest: {best['head']} + {best['scoring']}, per defect type: "
          + ", ".join(f"{k} {v:.3f}" for k, v in best["per_type"].items()))
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    raise SystemExit(main())
