"""Dev measurement (not a test): why patch memory's pixel AUROC on magnetic_tile stays well below 0.90.

    python benchmarks/explain_pixel_auroc.py [--set KEY=VALUE ...]

Two things, printed as JSON:

- ``nearest_training_image``: for each test folder, how close each image comes to its nearest training image
  (24×24 thumbnails, each standardised; mean squared difference), and the share closer than 0.05, which by
  eye is "the same tile, photographed again". Most good test images (71 %) have such a twin in ``train/good``,
  hardly any defect photograph does (0-6 %). The memory bank therefore recalls the good test tiles almost exactly, while
  every defect photograph shows a tile it has never seen.
- per defect type, after fitting the detector on ``train/good`` as ``measure_patch_memory.py`` does: the
  median map value far (> 100 px) from any labelled defect, also with the labelled defect painted out
  (OpenCV inpainting of the dilated mask), and the share of photographs whose far median lies above the
  90th percentile of the good test images' medians. Unseen tiles score above the recalled good ones all
  over, and the large, faint ``uneven`` regions (72 % of all defect pixels) only a little above that, so
  they rank below the normal surface of other defect photographs however sharp the maps are.
- per defect type, how well the map separates a photograph's labelled pixels from its own unlabelled ones
  (``within_photograph_auroc``, median over photographs; no other photograph involved) and how much of the
  photograph the label covers. An ``uneven`` label is a whole band of the tile (a quarter of the photograph
  on average) whose surface was finished differently; patch by patch it looks like the streaked surface of a
  good tile, so the map marks its edge and corners and the band itself only faintly (median about 0.79).
  ``pixel_auroc_defect_photographs_only`` pools the defect photographs without the good ones.
"""

from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np
from measure_patch_memory import DEFAULT_DATA, load_split, parse_settings, square

from inspector_app.core.metrics import pixel_auroc
from inspector_app.detectors.base import Progress, TrainingData
from inspector_app.detectors.patch_memory import PatchMemoryDetector

FAR_PX = 100
TWIN_DISTANCE = 0.05


def thumbnails(images: list[np.ndarray]) -> np.ndarray:
    """24×24 grey thumbnails, each standardised, flattened: a cheap fingerprint of a whole tile."""
    out = []
    for image in images:
        grey = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (24, 24), interpolation=cv2.INTER_AREA)
        grey = grey.astype(np.float32).ravel()
        out.append((grey - grey.mean()) / (grey.std() + 1e-6))
    return np.stack(out)


def nearest_training_image(train: list[np.ndarray], test: list[np.ndarray], types: list[str]) -> dict[str, object]:
    known = thumbnails(train)
    seen = thumbnails(test)
    distances = np.array([((known - t) ** 2).mean(axis=1).min() for t in seen])
    report: dict[str, object] = {}
    for kind in sorted(set(types)):
        d = distances[np.array(types) == kind]
        report[kind] = {"median_distance": round(float(np.median(d)), 3),
                        "share_with_a_twin": round(float((d < TWIN_DISTANCE).mean()), 2)}
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="detector setting")
    args = parser.parse_args()
    train, test, masks, types = load_split(DEFAULT_DATA)
    detector = PatchMemoryDetector(parse_settings(args.set))
    empty = np.zeros((0, detector.image_size, detector.image_size, 3), np.uint8)
    detector.fit(TrainingData(good=square(train, detector.image_size), val_good=empty), Progress())
    report: dict[str, object] = {"nearest_training_image": nearest_training_image(train, test, types)}
    good = [np.median(detector.infer(im[None]).maps[0]) for im, t in zip(test, types, strict=True) if t == "good"]
    good_p90 = float(np.percentile(good, 90))
    report["good_median"] = round(float(np.median(good)), 1)
    report["good_p90"] = round(good_p90, 1)
    pooled_maps, pooled_masks = [], []
    for kind in sorted(set(types) - {"good"}):
        raw, painted, within, share = [], [], [], []
        for image, mask, t in zip(test, masks, types, strict=True):
            if t != kind or not mask.any():
                continue
            heat = detector.infer(image[None]).maps[0]
            pooled_maps.append(heat.ravel())
            pooled_masks.append(mask.ravel())
            share.append(float(mask.mean()))
            if not mask.all():
                within.append(pixel_auroc(mask, heat))
            far = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5) > FAR_PX
            if not far.any():
                continue
            grown = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8))
            repaired = cv2.inpaint(image, grown, 5, cv2.INPAINT_TELEA)
            raw.append(np.median(heat[far]))
            painted.append(np.median(detector.infer(repaired[None]).maps[0][far]))
        report[kind] = {"images": len(raw), "far_median": round(float(np.median(raw)), 1),
                        "far_median_defect_painted_out": round(float(np.median(painted)), 1),
                        "share_above_good_p90": round(float((np.array(raw) > good_p90).mean()), 2),
                        "within_photograph_auroc": round(float(np.median(within)), 3) if within else None,
                        "label_share_of_photograph": round(float(np.mean(share)), 3)}
    report["pixel_auroc_defect_photographs_only"] = round(
        pixel_auroc(np.concatenate(pooled_masks), np.concatenate(pooled_maps)), 4)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
