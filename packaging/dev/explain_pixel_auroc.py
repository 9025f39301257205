"""Dev measurement (not a test): why patch memory's pixel AUROC on magnetic_tile stays near 0.84.

    python packaging/dev/explain_pixel_auroc.py [--set KEY=VALUE ...]

Fits the detector on ``train/good`` as ``measure_patch_memory.py`` does, then prints, per defect type, the
median map value far (> 100 px) from any labelled defect, before and after painting the labelled defect out
(OpenCV inpainting of the dilated mask), next to the median map value of the good test images. Far-away
values well above the good ones, that stay there with the defect removed, mean the defect photographs
differ from good parts outside their labels (unlabelled marks), which caps any good-only detector's pixel
AUROC however sharp its maps are.
"""

from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np
from measure_patch_memory import DEFAULT_DATA, load_split, parse_settings, square

from inspector_app.detectors.base import Progress, TrainingData
from inspector_app.detectors.patch_memory import PatchMemoryDetector

FAR_PX = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="detector setting")
    args = parser.parse_args()
    train, test, masks, types = load_split(DEFAULT_DATA)
    detector = PatchMemoryDetector(parse_settings(args.set))
    empty = np.zeros((0, detector.image_size, detector.image_size, 3), np.uint8)
    detector.fit(TrainingData(good=square(train, detector.image_size), val_good=empty), Progress())
    report: dict[str, object] = {}
    good = [np.median(detector.infer(im[None]).maps[0]) for im, t in zip(test, types, strict=True) if t == "good"]
    report["good_median"] = round(float(np.median(good)), 1)
    for kind in sorted(set(types) - {"good"}):
        raw, painted = [], []
        for image, mask, t in zip(test, masks, types, strict=True):
            if t != kind or not mask.any():
                continue
            far = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5) > FAR_PX
            if not far.any():
                continue
            grown = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8))
            repaired = cv2.inpaint(image, grown, 5, cv2.INPAINT_TELEA)
            raw.append(np.median(detector.infer(image[None]).maps[0][far]))
            painted.append(np.median(detector.infer(repaired[None]).maps[0][far]))
        report[kind] = {"images": len(raw), "far_median": round(float(np.median(raw)), 1),
                        "far_median_defect_painted_out": round(float(np.median(painted)), 1)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
