"""The U-Net's image score from its probability maps, in units an operator can reason about. Pure numpy/OpenCV.

``largest_area`` (the default): the area, in pixels of the working image, of the largest connected region at
or above the contour level (the outline the window draws). A threshold on it reads as a specification, "fail
a part with a defect of 40 px or more", and an isolated faint speck cannot fail a part. An image with no
region at all scores its peak probability instead (below the level, so below 1 px): images with nothing
drawn still rank by how close they came, which ranking metrics and the histogram need.
``max_probability``: the largest pixel probability, 0..1; the network computes it itself (its
``max_probability`` output), but it saturates near 1 on every image with even a tiny confident region.

The connected-region area is numpy after the network (export must ship this function with the model).
"""

from __future__ import annotations

import cv2
import numpy as np

LARGEST_AREA = "largest_area"
MAX_PROBABILITY = "max_probability"
SCORES = (LARGEST_AREA, MAX_PROBABILITY)


def largest_region_areas(maps: np.ndarray, level: float) -> np.ndarray:
    """Pixels in the largest 8-connected region of each map at or above ``level`` (0 when there is none)."""
    areas = np.zeros(len(maps), np.float32)
    for i, m in enumerate(maps):
        inside = (np.asarray(m) >= level).astype(np.uint8)
        if not inside.any():
            continue
        count, _, stats, _ = cv2.connectedComponentsWithStats(inside, connectivity=8)
        areas[i] = stats[1:count, cv2.CC_STAT_AREA].max()
    return areas


def image_scores(maps: np.ndarray, statistic: str, level: float) -> np.ndarray:
    """One score per probability map (N×H×W) for ``statistic``, one of :data:`SCORES`.

    Raises:
        ValueError: an unknown statistic.
    """
    peaks = np.asarray(maps, np.float32).reshape(len(maps), -1).max(axis=1, initial=0.0)
    if statistic == MAX_PROBABILITY:
        return peaks.astype(np.float32)
    if statistic == LARGEST_AREA:
        areas = largest_region_areas(maps, level)
        return np.where(areas > 0, areas, peaks).astype(np.float32)  # no region: the peak is below the level
    msg = f"U-Net score must be one of {', '.join(SCORES)}, got {statistic!r}"
    raise ValueError(msg)
