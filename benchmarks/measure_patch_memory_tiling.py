"""Dev measurement (not a test): does tiling find defects a few pixels wide on high-resolution parts?

    python benchmarks/measure_patch_memory_tiling.py [--size 768] [--train 40] [--test 40]

Builds its own set: good parts from :func:`inspector_app.core.demo_parts.render_part` at ``--size``, and
defective copies of *other* parts with a tiny defect drawn at native resolution (a scratch 2 px wide and
12–30 px long, or a pit of radius 2–4 px; about 0.01 % of the image). The same training parts are fitted
twice, once resized to 224 (no tiling) and once at native resolution cut into overlapping tiles, and both
are scored on the same test parts: image AUROC, pixel AUROC and the share of defects whose peak score
exceeds every good part's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import cv2
import numpy as np

from inspector_app.core.demo_parts import render_part
from inspector_app.core.images import resize
from inspector_app.core.metrics import image_auroc, pixel_auroc
from inspector_app.detectors.base import Progress, TrainingData
from inspector_app.detectors.patch_memory import PatchMemoryDetector


def tiny_defect(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``image`` with a scratch or pit a few pixels wide on the metal, and its mask."""
    n = image.shape[0]
    radius, angle = rng.uniform(0.27, 0.36) * n, rng.uniform(0, 2 * np.pi)
    x, y = n / 2 + radius * np.cos(angle), n / 2 + radius * np.sin(angle)
    mask = np.zeros((n, n), np.uint8)
    if rng.random() < 0.5:
        length, direction = rng.uniform(12, 30), rng.uniform(0, np.pi)
        end = (int(x + length * np.cos(direction)), int(y + length * np.sin(direction)))
        cv2.line(mask, (int(x), int(y)), end, 255, 2)
    else:
        cv2.circle(mask, (int(x), int(y)), int(rng.integers(2, 5)), 255, -1)
    shade = 40.0 if rng.random() < 0.7 else 235.0
    out = image.astype(np.float32)
    alpha = (mask > 0)[..., None]
    out = np.where(alpha, out * 0.25 + shade * 0.75, out)
    return np.clip(out, 0, 255).astype(np.uint8), mask > 0


def make_set(size: int, train: int, test: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    good_train = np.stack([render_part(seed, size)[0] for seed in range(train)])
    good_test = np.stack([render_part(1000 + seed, size)[0] for seed in range(test)])
    defects = [tiny_defect(render_part(2000 + seed, size)[0], rng) for seed in range(test)]
    return {
        "train": good_train,
        "test": np.concatenate([good_test, np.stack([d[0] for d in defects])]),
        "masks": np.concatenate([np.zeros((test, size, size), bool), np.stack([d[1] for d in defects])]),
        "labels": np.r_[np.zeros(test), np.ones(test)],
    }


def evaluate(config: dict[str, object], data: dict[str, np.ndarray]) -> dict[str, object]:
    detector = PatchMemoryDetector(config)
    size = detector.image_size
    good = np.stack([resize(im, (size, size)) for im in data["train"]])
    started = time.perf_counter()
    report = detector.fit(TrainingData(good=good, val_good=good[:0]), Progress())
    fit_seconds = time.perf_counter() - started
    detector.infer(data["test"][:1])
    started = time.perf_counter()
    out = detector.infer_batched(data["test"], batch_size=4)
    per_image_ms = (time.perf_counter() - started) / len(data["test"]) * 1000
    labels = data["labels"].astype(bool)
    return {
        "config": {k: config[k] for k in sorted(config)},
        "fit_seconds": round(fit_seconds, 1),
        "bank_size": report.details["bank_size"],
        "image_auroc": round(image_auroc(labels, out.scores), 4),
        "pixel_auroc": round(pixel_auroc(data["masks"], out.maps), 4),
        "defects_above_every_good": round(float((out.scores[labels] > out.scores[~labels].max()).mean()), 3),
        "infer_ms_per_image": round(per_image_ms, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=768)
    parser.add_argument("--train", type=int, default=40)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--layers", default="stride16,stride32", help="two backbone taps")
    parser.add_argument("--tile", type=int, default=256)
    args = parser.parse_args()
    data = make_set(args.size, args.train, args.test)
    layers = args.layers.split(",")
    runs = [
        {"image_size": 224, "layers": layers},
        {"image_size": args.size, "tile_size": args.tile, "tile_overlap": 0.25, "layers": layers},
    ]
    for config in runs:
        print(json.dumps(evaluate(config, data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
