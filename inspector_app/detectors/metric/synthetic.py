"""Synthetic anomalies drawn on good images, so a network can learn "normal" from good images alone.

Three kinds, each a small, local change that good parts never show:

- ``lines``: one to three thin dark or bright lines across the part (scratches, cracks);
- ``distortion``: a round patch of the part rotated or warped in place (a dent, a broken texture);
- ``cutpaste``: a thin rectangle of the part copied elsewhere on it, a little lighter or darker (a scar).

Changes land on the part rather than the background: their positions are drawn with a probability that
follows how much the image differs from the mean training image (:func:`placement_map`). Every function
returns the changed image and the mask of the pixels it may have changed; nothing outside that mask differs
from the input. Pure numpy/OpenCV; deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

ANOMALY_CLASSES = ("lines", "distortion", "cutpaste")
NORMAL = "normal"


def placement_map(image: np.ndarray, mean_image: np.ndarray | None) -> np.ndarray:
    """Where a change may land: probabilities (H×W, summing to 1) that follow the smoothed difference between
    ``image`` and the mean training image, so changes fall on the part (whose texture, position and details
    vary from image to image) rather than on a plain background (which matches the mean)."""
    height, width = image.shape[:2]
    if mean_image is None:
        return np.full((height, width), 1.0 / (height * width), np.float64)
    difference = np.abs(image.astype(np.float32) - mean_image.astype(np.float32)).mean(axis=-1)
    # Squared, so a part that differs three times as much as the background draws nine times the changes.
    weights = np.square(cv2.GaussianBlur(difference, (0, 0), max(height, width) / 32).astype(np.float64))
    weights += weights.mean() * 0.02 + 1e-6  # a little everywhere: a perfectly average image still gets changes
    return weights / weights.sum()


def _pick(placement: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """A pixel (x, y) drawn with the probabilities of ``placement``."""
    flat = int(rng.choice(placement.size, p=placement.ravel()))
    y, x = divmod(flat, placement.shape[1])
    return x, y


def _blend(image: np.ndarray, other: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with ``other`` laid over it with opacity ``alpha`` (H×W in [0, 1]); only where alpha > 0."""
    mask = alpha > 0
    a = alpha[..., None].astype(np.float32)
    mixed = np.clip(np.rint(image.astype(np.float32) * (1 - a) + other.astype(np.float32) * a), 0, 255)
    return np.where(mask[..., None], mixed.astype(np.uint8), image), mask


def draw_lines(image: np.ndarray, rng: np.random.Generator, placement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One to three thin, slightly bent lines, each uniformly dark or bright, starting on the part."""
    height, width = image.shape[:2]
    side = max(height, width)
    ink = np.zeros((height, width), np.uint8)
    shades = np.zeros(3, np.float32)
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = _pick(placement, rng)
        length = rng.uniform(0.2, 0.6) * side
        angle = rng.uniform(0, np.pi)
        x1, y1 = x0 + length * np.cos(angle), y0 + length * np.sin(angle)
        bend = rng.normal(0, 0.03 * side, size=2)
        points = np.array([[x0, y0], [(x0 + x1) / 2 + bend[0], (y0 + y1) / 2 + bend[1]], [x1, y1]])
        thickness = max(1, int(round(side / 224 * rng.uniform(1.0, 2.5))))
        cv2.polylines(ink, [np.rint(points).astype(np.int32)], False, 255, thickness, lineType=cv2.LINE_AA)
    shades[:] = rng.uniform(0, 50) if rng.random() < 0.5 else rng.uniform(200, 255)
    paint = np.broadcast_to(shades, image.shape)
    return _blend(image, paint, ink.astype(np.float32) / 255.0)


def _soft_disc(height: int, width: int, centre: tuple[int, int], axes: tuple[int, int], angle: float) -> np.ndarray:
    """An ellipse of opacity 1 with a soft rim, zero beyond it."""
    disc = np.zeros((height, width), np.float32)
    cv2.ellipse(disc, centre, axes, angle, 0, 360, 1.0, -1, lineType=cv2.LINE_AA)
    rim = max(1.0, min(axes) / 4)
    return np.where(disc > 0, cv2.GaussianBlur(disc, (0, 0), rim), 0.0).astype(np.float32)


def local_distortion(image: np.ndarray, rng: np.random.Generator,
                     placement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A round patch of the part, on the part, rotated (30–330°) or warped (shear and squeeze) in place."""
    height, width = image.shape[:2]
    side = max(height, width)
    cx, cy = _pick(placement, rng)
    radius = rng.uniform(0.06, 0.14) * side
    if rng.random() < 0.5:
        matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), float(rng.uniform(30, 330)), 1.0)
    else:  # shear and squeeze about the centre
        shear, squeeze = rng.uniform(-0.8, 0.8), rng.uniform(0.5, 1.5)
        linear = np.array([[squeeze, shear], [0.0, 1.0 / squeeze]])
        matrix = np.hstack([linear, (np.array([cx, cy]) - linear @ np.array([cx, cy]))[:, None]])
    moved = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    axes = (max(2, int(radius)), max(2, int(radius * rng.uniform(0.6, 1.0))))
    return _blend(image, moved, _soft_disc(height, width, (cx, cy), axes, float(rng.uniform(0, 180))))


def cut_paste(image: np.ndarray, rng: np.random.Generator, placement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A thin rectangle of the part copied to another place on it, 10–30 % lighter or darker."""
    height, width = image.shape[:2]
    side = max(height, width)
    long_side = max(3, int(rng.uniform(0.08, 0.25) * side))
    short_side = max(2, int(rng.uniform(0.02, 0.06) * side))
    w, h = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
    w, h = min(w, width - 1), min(h, height - 1)
    tx, ty = _pick(placement, rng)
    sx, sy = _pick(placement, rng)
    # Top-left corners that keep both rectangles inside the image.
    tx, ty = int(np.clip(tx - w // 2, 0, width - w)), int(np.clip(ty - h // 2, 0, height - h))
    sx, sy = int(np.clip(sx - w // 2, 0, width - w)), int(np.clip(sy - h // 2, 0, height - h))
    gain = rng.uniform(1.1, 1.3) if rng.random() < 0.5 else rng.uniform(0.7, 0.9)
    source = np.zeros_like(image)
    source[ty : ty + h, tx : tx + w] = np.clip(image[sy : sy + h, sx : sx + w].astype(np.float32) * gain, 0, 255)
    alpha = np.zeros((height, width), np.float32)
    alpha[ty : ty + h, tx : tx + w] = 1.0
    return _blend(image, source, alpha)


_MAKERS = {"lines": draw_lines, "distortion": local_distortion, "cutpaste": cut_paste}


def make_anomaly(kind: str, image: np.ndarray, rng: np.random.Generator,
                 placement: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``image`` (uint8 H×W×3) with one synthetic anomaly of ``kind``, and the mask of pixels it may change."""
    if kind not in _MAKERS:
        msg = f"unknown synthetic anomaly {kind!r}; known: {', '.join(ANOMALY_CLASSES)}"
        raise ValueError(msg)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        msg = f"synthetic anomalies need a uint8 H×W×3 image, got {image.dtype} {image.shape}"
        raise ValueError(msg)
    if placement is None:
        placement = placement_map(image, None)
    return _MAKERS[kind](image, rng, placement)


def check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    """The anomaly classes as a tuple, after checking each is known and none repeats."""
    chosen = tuple(str(c) for c in classes)
    unknown = [c for c in chosen if c not in _MAKERS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        msg = f"anomaly classes must be distinct names from {', '.join(ANOMALY_CLASSES)}; got {list(chosen)}"
        raise ValueError(msg)
    return chosen


def synthetic_set(good: np.ndarray, classes: Sequence[str], per_image: int, seed: int,
                  mean_image: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every good image as class 0 plus ``per_image`` anomalies of each class (class i + 1) made from it.

    Returns uint8 images and int32 labels in a fixed order; the same seed gives the same set.
    """
    chosen = check_classes(classes)
    rng = np.random.default_rng(seed)
    count = len(good) * (1 + per_image * len(chosen))
    images = np.empty((count, *good.shape[1:]), np.uint8)
    labels = np.empty(count, np.int32)
    row = 0
    for image in good:
        placement = placement_map(image, mean_image)
        images[row], labels[row] = image, 0
        row += 1
        for label, kind in enumerate(chosen, start=1):
            for _ in range(per_image):
                images[row], labels[row] = make_anomaly(kind, image, rng, placement)[0], label
                row += 1
    return images, labels


def preview(good: Sequence[np.ndarray], classes: Sequence[str], seed: int = 0,
            mean_image: np.ndarray | None = None) -> dict[str, list[np.ndarray]]:
    """For the wizard: the given good images and, per class, one anomaly made from each of them."""
    chosen = check_classes(classes)
    rng = np.random.default_rng(seed)
    shown: dict[str, list[np.ndarray]] = {NORMAL: [np.asarray(g) for g in good]}
    for kind in chosen:
        shown[kind] = [make_anomaly(kind, np.asarray(g), rng, placement_map(np.asarray(g), mean_image))[0]
                       for g in good]
    return shown
