"""Measurement (not a test): which patch-memory choices let a small defect, not unseen layout, drive the score.

    python benchmarks/large_boards_study.py [--train 40] [--val 10] [--test 20] [--banks 2000,6000,20000]

On the generated 640×640 boards of :mod:`large_boards` (every test layout unseen), tiled as today's default
(640 px in 224 px tiles), this fits patch memory once per backbone tap pair (today's stride 16 + 32, and the
finer stride 8 + 16), chooses coresets of several sizes from the same features, and for each prints: image
AUROC under four image scores computed from the same maps, pixel AUROC, the bank's size, the coreset's seconds
and the milliseconds per image. The image scores: the map's maximum (today's), the mean of its 400 highest
pixels (a 20×20 defect), the maximum above the image's own 99th percentile (a defect is one peak above the
board's own level of unfamiliarity), and the area above the 99.9th percentile of held-out good boards' pixels.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from benchmarks.large_boards import board, with_defect
from inspector_app.core import metrics
from inspector_app.detectors.base import Progress
from inspector_app.detectors.common.coreset import coreset_indices
from inspector_app.detectors.patch_memory import PatchMemoryDetector

SIZE, TILE = 640, 224
TAPS = {"stride16+32 (today)": ["stride16", "stride32"], "stride8+16 (finer)": ["stride8", "stride16"]}
TOP_PIXELS = 400
#: Pixel AUROC on maps shrunk to this grid (enough for 8–24 px defects at 640 px, and quick).
GRID = 160


def image_scores(maps: np.ndarray, pixel_threshold: float) -> dict[str, np.ndarray]:
    flat = maps.reshape(len(maps), -1)
    top = np.sort(flat, axis=1)[:, -TOP_PIXELS:]
    return {"max": flat.max(axis=1), f"top-{TOP_PIXELS} mean": top.mean(axis=1),
            "max above own p99": flat.max(axis=1) - np.percentile(flat, 99, axis=1),
            "area above good p99.9": (flat > pixel_threshold).sum(axis=1).astype(np.float64)}


def maps_of(detector: PatchMemoryDetector, images: np.ndarray) -> tuple[np.ndarray, float]:
    """Maps at working size and milliseconds per image (one image at a time, as a camera delivers them)."""
    out, started = [], time.perf_counter()
    for image in images:
        out.append(detector.infer(image[None]).maps[0])
    return np.stack(out), (time.perf_counter() - started) / len(images) * 1000


def shrink(maps_or_masks: np.ndarray) -> np.ndarray:
    step = SIZE // GRID
    return maps_or_masks.reshape(len(maps_or_masks), GRID, step, GRID, step).max(axis=(2, 4))


def study(taps: list[str], banks: list[int], train: np.ndarray, val: np.ndarray, test: np.ndarray,
          labels: np.ndarray, masks: np.ndarray) -> list[dict[str, Any]]:
    detector = PatchMemoryDetector({"image_size": SIZE, "tile_size": TILE, "layers": taps})
    network = detector._ensure_network()
    started = time.monotonic()
    features, _ = detector._collect_features(train, network, Progress())
    feature_s = time.monotonic() - started
    rows = []
    for size in banks:
        started = time.monotonic()
        chosen = coreset_indices(features, size, projection_dims=128, seed=0)
        coreset_s = time.monotonic() - started
        detector._set_bank(features[chosen])
        val_maps, _ = maps_of(detector, val)
        test_maps, ms = maps_of(detector, test)
        threshold = float(np.percentile(val_maps, 99.9))
        aurocs = {name: round(metrics.image_auroc(labels, s), 3)
                  for name, s in image_scores(test_maps, threshold).items()}
        rows.append({"taps": taps, "patches": len(features), "bank": int(len(chosen)),
                     "feature_seconds": round(feature_s, 1), "coreset_seconds": round(coreset_s, 1),
                     "ms_per_image": round(ms), "image_auroc": aurocs,
                     "pixel_auroc": round(metrics.pixel_auroc(shrink(masks), shrink(test_maps)), 3)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=int, default=40)
    parser.add_argument("--val", type=int, default=10)
    parser.add_argument("--test", type=int, default=20, help="good and as many defective test boards")
    parser.add_argument("--banks", default="2000,6000,20000")
    parser.add_argument("--taps", default=",".join(TAPS), help="which tap pairs to study")
    args = parser.parse_args()
    train = np.stack([board(1000 + i, SIZE) for i in range(args.train)])
    val = np.stack([board(3000 + i, SIZE) for i in range(args.val)])
    defects = [with_defect(board(9000 + i, SIZE), 9000 + i) for i in range(args.test)]
    test = np.stack([board(5000 + i, SIZE) for i in range(args.test)] + [image for image, _ in defects])
    masks = np.stack([np.zeros((SIZE, SIZE), bool)] * args.test + [mask > 0 for _, mask in defects])
    labels = np.r_[np.zeros(args.test, bool), np.ones(args.test, bool)]
    banks = [int(b) for b in args.banks.split(",")]
    for name in args.taps.split(","):
        study(TAPS[name], banks, train, val, test, labels, masks)


if __name__ == "__main__":
    main()
