"""Dev measurement (not a test): patch-memory accuracy, fit time, latency and fit memory on an MVTec-layout set.

    python benchmarks/measure_patch_memory.py                       # ../shared/data/magnetic_tile, defaults
    python benchmarks/measure_patch_memory.py --set layers=stride8,stride16 --set coreset_fraction=0.03
    python benchmarks/measure_patch_memory.py --memory-images 1000  # peak RSS of a fit on 1000 images only

Trains on ``train/good`` (images resized to the working size as the training job does) and scores every
``test/*`` image at its own resolution, so the maps and the pixel AUROC are at native resolution (all pixels
of all test images). Latency is ``detector.infer`` on one image at a time (warm), end to end: resize,
network, search, smoothing, map back at input size. Peak RSS is the process's ``ru_maxrss`` after the fit.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from inspector_app.core.images import resize
from inspector_app.core.metrics import aupro, image_auroc, per_type_auroc, pixel_auroc
from inspector_app.detectors.base import Progress, TrainingData
from inspector_app.detectors.patch_memory import PatchMemoryDetector

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "magnetic_tile"


def read_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def load_split(root: Path) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[str]]:
    """Training images, test images, test masks (bool) and test types, all at native size."""
    train = [read_rgb(p) for p in sorted((root / "train" / "good").glob("*.png"))]
    test, masks, types = [], [], []
    for folder in sorted((root / "test").iterdir()):
        for path in sorted(folder.glob("*.png")):
            image = read_rgb(path)
            mask_path = root / "ground_truth" / folder.name / f"{path.stem}_mask.png"
            mask = np.asarray(Image.open(mask_path)) > 127 if mask_path.exists() else np.zeros(image.shape[:2], bool)
            test.append(image)
            masks.append(mask)
            types.append(folder.name)
    return train, test, masks, types


def parse_settings(pairs: list[str]) -> dict[str, object]:
    settings: dict[str, object] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key == "layers":
            settings[key] = value.split(",")
        else:
            settings[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
    return settings


def square(images: list[np.ndarray], size: int) -> np.ndarray:
    """Training images at the working size, resized as ``core.datasets.load_images`` does."""
    return np.stack([resize(im, (size, size)) for im in images])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_memory(detector: PatchMemoryDetector, train: list[np.ndarray], count: int) -> None:
    chosen = [train[i % len(train)] for i in range(count)]
    good = square(chosen, detector.image_size)
    del chosen
    before = peak_rss_mb()
    started = time.perf_counter()
    report = detector.fit(TrainingData(good=good, val_good=good[:0]), Progress())
    print(json.dumps({
        "fit_images": count, "fit_seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb_before_fit": round(before, 0), "peak_rss_mb": round(peak_rss_mb(), 0), **report.details,
    }, indent=1))


def measure_accuracy(
    detector: PatchMemoryDetector,
    train: list[np.ndarray],
    *,
    test: list[np.ndarray],
    masks: list[np.ndarray],
    types: list[str],
    latency_images: int,
) -> None:
    good = square(train, detector.image_size)
    started = time.perf_counter()
    report = detector.fit(TrainingData(good=good, val_good=good[:0]), Progress())
    fit_seconds = time.perf_counter() - started
    detector.infer(test[0][None])  # warm-up (graph tracing)
    started = time.perf_counter()
    outputs = [detector.infer(image[None]) for image in test]
    eval_seconds = time.perf_counter() - started
    scores = np.array([o.scores[0] for o in outputs])
    labels = np.array([t != "good" for t in types])
    flat_maps = np.concatenate([o.maps[0].ravel() for o in outputs])
    flat_masks = np.concatenate([m.ravel() for m in masks])
    small = [
        (cv2.resize(o.maps[0], (224, 224)), cv2.resize(m.astype(np.uint8), (224, 224)) > 0)
        for o, m in zip(outputs, masks, strict=True)
    ]
    latency = measure_latency(detector, test, latency_images)
    print(json.dumps({
        "config": detector.config,
        "fit_seconds": round(fit_seconds, 1), **report.details,
        "image_auroc": round(image_auroc(labels, scores), 4),
        "pixel_auroc_native": round(pixel_auroc(flat_masks, flat_maps), 4),
        "aupro_224": round(aupro(np.stack([s[1] for s in small]), np.stack([s[0] for s in small])), 4),
        "per_type_image_auroc": {k: round(v, 4) for k, v in per_type_auroc(types, scores).items()},
        "per_type_pixel_auroc": per_type_pixel_auroc(outputs, masks, types),
        "native_infer_ms_mean": round(eval_seconds / len(test) * 1000, 1),
        **latency,
        "peak_rss_mb": round(peak_rss_mb(), 0),
    }, indent=1))


def per_type_pixel_auroc(outputs: list, masks: list[np.ndarray], types: list[str]) -> dict[str, float]:
    """Pixel AUROC of each defect type's images pooled with the good test images (where its misses come from)."""
    result = {}
    for kind in sorted(set(types) - {"good"}):
        chosen = [i for i, t in enumerate(types) if t in (kind, "good")]
        maps = np.concatenate([outputs[i].maps[0].ravel() for i in chosen])
        truth = np.concatenate([masks[i].ravel() for i in chosen])
        result[kind] = round(pixel_auroc(truth, maps), 4)
    return result


def measure_latency(detector: PatchMemoryDetector, test: list[np.ndarray], count: int) -> dict[str, float]:
    """Batch-1 ``infer`` on 224×224 uint8 frames, warm: median and p95 in ms."""
    frames = [resize(test[i % len(test)], (224, 224))[None] for i in range(count)]
    for frame in frames[:5]:
        detector.infer(frame)
    times = []
    for frame in frames:
        started = time.perf_counter()
        detector.infer(frame)
        times.append((time.perf_counter() - started) * 1000)
    return {"latency_224_batch1_median_ms": round(float(np.median(times)), 1),
            "latency_224_batch1_p95_ms": round(float(np.percentile(times, 95)), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="MVTec-layout folder")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="detector setting")
    parser.add_argument("--memory-images", type=int, default=0, help="only measure peak RSS of a fit on N images")
    parser.add_argument("--latency-images", type=int, default=100)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(f"no dataset at {args.data}", file=sys.stderr)
        return 2
    train, test, masks, types = load_split(args.data)
    detector = PatchMemoryDetector(parse_settings(args.set))
    if args.memory_images:
        del test, masks
        measure_memory(detector, train, args.memory_images)
    else:
        measure_accuracy(detector, train, test=test, masks=masks, types=types, latency_images=args.latency_images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
