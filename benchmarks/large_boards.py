"""Measurement (not a test): patch memory on large images with small defects and layouts training never saw.

    python benchmarks/large_boards.py [--out DIR] [--train 60] [--test 30] [--size 640]

Builds its own MVTec-layout set of generated 640×640 circuit boards: every board has its own random layout
of components and traces (so each test board is a composition training never saw, the normal variation of a
new product revision), and defective boards carry one small defect 8–24 px across (a scratch through a
trace, a solder splash, a chipped component), with its mask. It then trains patch memory twice through the
same path as ``inspector-app train`` (``run_training``): once with the settings that were the default before
large images were tiled (224 px, no tiling), once with today's defaults (which choose tiling for these
images), and prints for each: the settings used, image and pixel AUROC, the false-alarm and miss rates at the
stored threshold and at best F1, fit seconds, and milliseconds per image.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from inspector_app.core.datasets import write_mvtec_layout
from inspector_app.core.modelstore import ModelStore
from inspector_app.detectors.base import Progress
from inspector_app.detectors.loaded_model import LoadedModel
from inspector_app.jobs.evaluation import evaluate
from inspector_app.jobs.training import run_training
from inspector_app.jobs.training_spec import TrainingSpec

BOARD_GREEN = (34, 92, 52)
COMPONENTS = ((24, 24, 26), (200, 180, 140), (170, 170, 175), (60, 40, 30), (120, 20, 20))
COPPER = (190, 130, 60)


def board(seed: int, size: int) -> np.ndarray:
    """One board with its own layout: traces first, then components on a loose grid, then sensor noise."""
    rng = np.random.default_rng(seed)
    image = np.empty((size, size, 3), np.uint8)
    image[:] = BOARD_GREEN
    for _ in range(rng.integers(10, 18)):
        points = [tuple(int(v) for v in rng.integers(0, size, 2))]
        for _ in range(rng.integers(2, 5)):  # Manhattan routing, as traces are drawn
            x, y = points[-1]
            points.append((int(rng.integers(0, size)), y) if rng.random() < 0.5 else (x, int(rng.integers(0, size))))
        cv2.polylines(image, [np.array(points, np.int32)], False, COPPER, int(rng.integers(2, 5)))
    cell = size // 8
    for row in range(8):
        for col in range(8):
            if rng.random() < 0.45:
                continue
            w, h = (int(v) for v in rng.integers(cell // 4, cell - 6, 2))
            x = col * cell + int(rng.integers(2, cell - w))
            y = row * cell + int(rng.integers(2, cell - h))
            colour = COMPONENTS[int(rng.integers(len(COMPONENTS)))]
            cv2.rectangle(image, (x, y), (x + w, y + h), colour, -1)
            for px in range(x + 3, x + w - 2, 7):  # pins along the long side
                cv2.rectangle(image, (px, y - 3), (px + 2, y), (170, 170, 175), -1)
    noise = rng.normal(0, 3.0, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def with_defect(image: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A small defect somewhere on the board, and its mask."""
    rng = np.random.default_rng(seed)
    out, size = image.copy(), image.shape[0]
    mask = np.zeros(image.shape[:2], np.uint8)
    x, y = (int(v) for v in rng.integers(40, size - 40, 2))
    kind = int(rng.integers(3))
    if kind == 0:  # scratch: a thin bright line
        length, angle = rng.uniform(12, 24), rng.uniform(0, np.pi)
        end = (int(x + length * np.cos(angle)), int(y + length * np.sin(angle)))
        cv2.line(mask, (x, y), end, 255, 2)
        out[mask > 0] = (225, 220, 200)
    elif kind == 1:  # solder splash: a silver blob
        cv2.circle(mask, (x, y), int(rng.integers(4, 9)), 255, -1)
        out[mask > 0] = (205, 205, 210)
    else:  # chip: a dark notch
        w, h = (int(v) for v in rng.integers(8, 18, 2))
        cv2.rectangle(mask, (x, y), (x + w, y + h), 255, -1)
        out[mask > 0] = (12, 30, 18)
    return out, mask


def build(folder: Path, train: int, test: int, size: int) -> Path:
    good_train = [board(1000 + i, size) for i in range(train)]
    good_test = [board(5000 + i, size) for i in range(test)]
    defects = [with_defect(board(9000 + i, size), 9000 + i) for i in range(test)]
    return write_mvtec_layout(folder, good_train, good_test, {"defect": defects})


def measure(data: Path, store: ModelStore, name: str, config: dict) -> dict:
    started = time.monotonic()
    ref = run_training(TrainingSpec("patch_memory", [str(data)], name, config), store, Progress())
    fit_s = time.monotonic() - started
    model = LoadedModel.load(store, ref)
    result = evaluate(model, str(data))
    image = np.asarray(board(123, int(model.detector.config["image_size"])))[None]
    model.inspect(image)  # warm-up
    timed = time.perf_counter()
    for _ in range(5):
        model.inspect(image)
    return {
        "settings": {k: model.detector.config[k] for k in ("image_size", "tile_size")},
        "image_auroc": round(result.image_auroc, 3),
        "pixel_auroc": round(result.pixel_auroc, 3) if result.pixel_auroc is not None else None,
        "at_stored_threshold": result.operating_points["stored threshold"],
        "at_best_f1": result.operating_points["best F1"],
        "calibration": model.calibration.method,
        "fit_seconds": round(fit_s, 1),
        "ms_per_image": round((time.perf_counter() - timed) / 5 * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="where to write the boards (default: a temporary folder)")
    parser.add_argument("--train", type=int, default=60)
    parser.add_argument("--test", type=int, default=30)
    parser.add_argument("--size", type=int, default=640)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = build((args.out or Path(tmp)) / "boards", args.train, args.test, args.size)
        store = ModelStore(Path(tmp) / "home")
        figures = {"before (224 px, no tiling)": measure(data, store, "boards-224", {"image_size": 224}),
                   "today's defaults": measure(data, store, "boards-default", {})}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
