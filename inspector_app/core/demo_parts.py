"""Procedurally drawn sample parts with generated defects, so the demo and the tests need no downloaded data.

A part is a machined round flange in a fixture on a dark conveyor: brushed-metal texture, a centre bore,
four bolt holes and a stamped ring, with the small variation in position, rotation (a few degrees) and
lighting that a real line has.
Defects are drawn on top with a ground-truth mask: a ``scratch`` (thin bright or dark line), a ``hole``
(dark pit) or a ``stain`` (soft discoloured blob). Everything is deterministic for a given seed.

``variant`` changes the look of *good* parts (``"bright"``: stronger lighting, ``"coarse"``: a coarser
texture), for the retraining scenario where a first model flags a new kind of good part.
"""

from __future__ import annotations

import cv2
import numpy as np

DEFECT_KINDS = ("scratch", "hole", "stain")
VARIANTS = ("standard", "bright", "coarse")


def render_part(
    seed: int, size: int = 256, defect: str | None = None, variant: str = "standard"
) -> tuple[np.ndarray, np.ndarray]:
    """One part as uint8 RGB (size×size×3) and its defect mask (bool, all False for a good part)."""
    if defect is not None and defect not in DEFECT_KINDS:
        msg = f"unknown defect kind {defect!r}; known: {', '.join(DEFECT_KINDS)}"
        raise ValueError(msg)
    if variant not in VARIANTS:
        msg = f"unknown part variant {variant!r}; known: {', '.join(VARIANTS)}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    work = 256  # draw at a fixed scale, then resize, so parts look alike at every size
    image = _draw_good_part(rng, work, variant)
    mask = np.zeros((work, work), np.uint8)
    if defect is not None:
        _DRAWERS[defect](image, mask, rng, work)
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    if size != work:
        rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if size < work else cv2.INTER_LINEAR)
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(rgb), mask > 0


def _draw_good_part(rng: np.random.Generator, n: int, variant: str) -> np.ndarray:
    """A float32 RGB image of a good flange with natural line-to-line variation."""
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    cx, cy = n / 2 + rng.normal(0, 2.0), n / 2 + rng.normal(0, 2.0)
    angle = 0.3 + rng.normal(0, 0.04)  # parts sit in a fixture: a few degrees of play, not any rotation
    radius = n * 0.42
    gain = rng.normal(1.0, 0.03) * (1.25 if variant == "bright" else 1.0)
    # Conveyor background: dark, slightly textured.
    background = 38 + 6 * _smooth_noise(rng, n, scale=24)
    # Brushed metal: streaks along one direction, plus fine grain.
    streak_scale = 10 if variant == "coarse" else 3
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    brushed = _smooth_noise(rng, n, scale=streak_scale, stretch=8, angle=angle)
    grain_strength = 14 if variant == "coarse" else 6
    metal = 150 + 14 * brushed + grain_strength * rng.standard_normal((n, n)).astype(np.float32) * 0.5
    metal += 18 * (u / radius)  # lighting gradient across the part
    dist = np.hypot(xx - cx, yy - cy)
    part = dist <= radius
    image = np.where(part, metal, background) * gain
    # Stamped ring, centre bore and four bolt holes.
    ring = np.abs(dist - radius * 0.72) < 2.0
    image = np.where(ring, image * 0.82, image)
    image = np.where(dist <= radius * 0.22, background, image)
    for k in range(4):
        a = angle + k * np.pi / 2
        hx, hy = cx + radius * 0.55 * np.cos(a), cy + radius * 0.55 * np.sin(a)
        image = np.where(np.hypot(xx - hx, yy - hy) <= radius * 0.08, background, image)
    # Soft edge so the outline is not a hard alias.
    image = cv2.GaussianBlur(image.astype(np.float32), (3, 3), 0.7)
    tint = np.array([1.0, 0.99, 0.96], np.float32)  # steel is slightly warm under the line's lamps
    return image[..., None] * tint


def _smooth_noise(
    rng: np.random.Generator, n: int, scale: float, stretch: float = 1.0, angle: float = 0.0
) -> np.ndarray:
    """Band-limited noise in [-1, 1]; ``stretch`` elongates it along ``angle`` (brushed look)."""
    noise = rng.standard_normal((n, n)).astype(np.float32)
    sx = max(scale * stretch, 0.5)
    sy = max(scale, 0.5)
    blurred = cv2.GaussianBlur(noise, (0, 0), sigmaX=sx, sigmaY=sy)
    rotation = cv2.getRotationMatrix2D((n / 2, n / 2), np.degrees(angle), 1.0)
    blurred = cv2.warpAffine(blurred, rotation, (n, n), borderMode=cv2.BORDER_REFLECT)
    peak = float(np.abs(blurred).max()) or 1.0
    return blurred / peak


def _point_on_part(rng: np.random.Generator, n: int) -> tuple[float, float]:
    """A random point on the metal (between the bore and the rim)."""
    r = rng.uniform(0.26, 0.36) * n
    a = rng.uniform(0, 2 * np.pi)
    return n / 2 + r * np.cos(a), n / 2 + r * np.sin(a)


def _draw_scratch(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, n: int) -> None:
    x0, y0 = _point_on_part(rng, n)
    length = rng.uniform(0.12, 0.25) * n
    a = rng.uniform(0, np.pi)
    x1, y1 = x0 + length * np.cos(a), y0 + length * np.sin(a)
    bend = rng.normal(0, 6, size=2)
    points = np.array(
        [[x0, y0], [(x0 + x1) / 2 + bend[0], (y0 + y1) / 2 + bend[1]], [x1, y1]], np.float32
    ).round().astype(np.int32)
    shade = 235.0 if rng.random() < 0.5 else 70.0
    width = int(rng.integers(2, 4))
    line = np.zeros((n, n), np.uint8)
    cv2.polylines(line, [points], False, 255, width, lineType=cv2.LINE_AA)
    alpha = (line.astype(np.float32) / 255.0)[..., None]
    image[:] = image * (1 - alpha) + shade * alpha
    mask[line > 96] = 255


def _draw_hole(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, n: int) -> None:
    x, y = _point_on_part(rng, n)
    r = rng.uniform(0.018, 0.035) * n
    pit = np.zeros((n, n), np.uint8)
    axes = (max(int(r), 2), max(int(r * rng.uniform(0.6, 1.0)), 2))
    cv2.ellipse(pit, (int(x), int(y)), axes, rng.uniform(0, 180), 0, 360, 255, -1, lineType=cv2.LINE_AA)
    alpha = (cv2.GaussianBlur(pit, (0, 0), 1.0).astype(np.float32) / 255.0)[..., None]
    image[:] = image * (1 - alpha) + 25.0 * alpha
    mask[pit > 96] = 255


def _draw_stain(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, n: int) -> None:
    x, y = _point_on_part(rng, n)
    blob = np.zeros((n, n), np.float32)
    for _ in range(int(rng.integers(3, 6))):
        ox, oy = rng.normal(0, 0.03 * n, size=2)
        r = rng.uniform(0.025, 0.05) * n
        cv2.circle(blob, (int(x + ox), int(y + oy)), int(r), 1.0, -1)
    blob = cv2.GaussianBlur(blob, (0, 0), 3.0)
    colour = np.array([120.0, 85.0, 45.0], np.float32)  # rust-brown
    alpha = (np.clip(blob, 0, 1) * rng.uniform(0.55, 0.8))[..., None]
    image[:] = image * (1 - alpha) + colour * alpha
    mask[blob > 0.35] = 255


_DRAWERS = {"scratch": _draw_scratch, "hole": _draw_hole, "stain": _draw_stain}
