"""How anomaly maps become colour: the one fixed colour scale, the heatmap overlay, mask outlines, PASS/FAIL.

The heatmap's colours and opacity are defined once, by the premultiplied layer of :func:`heat_layer_bgra`:
the window has Qt blend that layer over the frame, and :func:`overlay_heatmap` lays the same layer over the
picture with the same "source over" rule for everything else (the CLI's overlays, review thumbnails, exports).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from inspector_app.core.images.convert import to_rgb_uint8
from inspector_app.core.images.resizing import as_map, map_at, resize

HEATMAP_VMAX: float = 2.0
"""Normalised map value drawn at the top of the colour scale (1.0 is the threshold)."""

PASS_COLOUR: tuple[int, int, int] = (46, 160, 67)
FAIL_COLOUR: tuple[int, int, int] = (215, 38, 56)

# The layer is made in strips of about this many pixels, so a strip's map, indices and colours stay in the
# CPU cache, and a strip with nothing hot is skipped.
_STRIP_PIXELS = 1 << 16

# A pixel's heatmap opacity ramps from 0 at this normalised value up to full at the threshold (1.0).
_RAMP_START = 0.3

# Colour scale anchors as (position, RGB): the cold half spans [0, 1) of the normalised value, the warm half
# spans [1, vmax]; positions are fractions of each half. The jump from green to yellow marks the threshold.
_COLD_ANCHORS = ((0.0, (16, 24, 96)), (0.35, (24, 84, 200)), (0.7, (0, 185, 205)), (1.0, (60, 190, 80)))
_WARM_ANCHORS = ((0.0, (255, 232, 0)), (0.5, (255, 140, 0)), (1.0, (255, 16, 0)))


def heatmap_rgb(norm_map: np.ndarray, vmax: float = HEATMAP_VMAX) -> np.ndarray:
    """Normalised map -> ``uint8`` RGB on one fixed colour scale, the same for every frame and every model.

    0 (a typical good pixel) is dark blue, rising through cyan to green just below 1.0 (the threshold),
    where the colour jumps to yellow, then orange, to red at ``vmax``. Values below 0 draw as 0, values
    above ``vmax`` (and +inf) as ``vmax``, NaN as 0. The scale never adapts to the frame (no min-max), so a
    colour always means the same value.

    Raises:
        ValueError: The map is not 2-D, or ``vmax`` is not within (1, 256].
    """
    index = _map_to_index(as_map(norm_map, "heatmap_rgb"), vmax)
    return np.take(_colour_scale(vmax), index, axis=0)


def heat_layer_bgra(norm_map: np.ndarray, opacity: float, out: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The heatmap as a layer to lay over the picture, written into ``out``.

    ``out`` (``uint8`` H×W×4, the picture's size; the map is resized to it when it differs) gets bytes
    B, G, R, A per pixel with the colour already multiplied by its opacity (Qt's ``ARGB32_Premultiplied``
    layout on a little-endian machine), so a display can blend it itself. A pixel's opacity is ``opacity``
    (at most 1) times a ramp from 0 at a value of 0.3 up to 1 at the threshold (1.0), so a good part stays
    clean; its colour is :func:`heatmap_rgb`'s.

    Only the regions returned are written, as ``(x, y, width, height)``: per strip of rows, the columns that
    hold a pixel above the ramp's start; none on a good part, where there is nothing to lay over.
    """
    _check_quads(out, None, "layer")
    height, width = out.shape[:2]
    m = as_map(norm_map, "heat_layer_bgra")  # a bad map is refused whatever the opacity
    if not opacity > 0 or height == 0 or width == 0:  # NaN opacity included
        return []
    m = map_at(m, height, width, "heat_layer_bgra")
    # Each pixel's 4 bytes as one int32 table entry: cv2.LUT then writes a pixel per lookup, 1.5 ms less than
    # np.take's four bytes per 1280×1024 frame here (the output of cv2.LUT has the table's depth, as documented).
    table = _layer_table(float(min(opacity, 1.0)), HEATMAP_VMAX).view(np.int32).reshape(256)
    words = out.view(np.int32).reshape(height, width)
    first_hot = int(np.ceil(_RAMP_START * _bins_below_threshold(HEATMAP_VMAX)))  # the first index with opacity
    step = max(1, _STRIP_PIXELS // width)
    regions = []
    for top in range(0, height, step):
        index = _map_to_index(m[top : top + step], HEATMAP_VMAX)
        x, _, w, _ = cv2.boundingRect((index >= first_hot).view(np.uint8))
        if w:
            rows, cols = slice(top, top + len(index)), slice(x, x + w)
            cv2.LUT(index[:, cols], table, dst=words[rows, cols])
            regions.append((x, top, w, len(index)))
    return regions


def overlay_heatmap(image: np.ndarray, norm_map: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """A picture with :func:`heat_layer_bgra`'s layer laid over it, as the window shows it.

    Args:
        image: The picture, ``uint8`` RGB (anything :func:`~inspector_app.core.images.to_rgb_uint8` accepts).
        norm_map: Map normalised by the threshold (1.0 = the threshold); resized (bilinear) to the picture.
        opacity: Heatmap opacity at and above the threshold, 0..1.

    Returns:
        A new ``uint8`` RGB array of the image's size.
    """
    out = to_rgb_uint8(image).copy()
    layer = np.empty((*out.shape[:2], 4), np.uint8)
    for x, y, w, h in heat_layer_bgra(norm_map, opacity, layer):
        _lay_over(out[y : y + h, x : x + w], layer[y : y + h, x : x + w])
    return out


def rgb_to_bgrx(image: np.ndarray, out: np.ndarray) -> None:
    """Write a picture into ``out`` (``uint8`` H×W×4) as bytes B, G, R, 255.

    That is how a 32-bit ``0xffRRGGBB`` pixel lies in memory on a little-endian machine, the layout a screen
    draws from, so a display can show the result without converting it again.
    """
    _check_quads(out, np.shape(image)[:2], "output")
    cv2.cvtColor(to_rgb_uint8(image), cv2.COLOR_RGB2BGRA, dst=out)


def draw_mask_contours(
    image: np.ndarray,
    mask: np.ndarray,
    colour: tuple[int, int, int] = (255, 40, 40),
    thickness: int = 2,
    level: float = 0.5,
) -> np.ndarray:
    """Outline the regions where ``mask >= level``, leaving the pixels inside visible.

    Args:
        image: The picture (anything :func:`~inspector_app.core.images.to_rgb_uint8` accepts).
        mask: ``bool`` mask or float map; resized to the image if needed (nearest for bool, else bilinear).
        colour: RGB of the outline.
        thickness: Line width in pixels.
        level: Values at or above this are inside.

    Returns:
        A new ``uint8`` RGB array.
    """
    out = to_rgb_uint8(image).copy()
    height, width = out.shape[:2]
    m = np.asarray(mask)
    if m.dtype == bool:
        inside = m if m.shape == (height, width) else resize(m, (width, height), "nearest")
    else:
        inside = map_at(m, height, width, "draw_mask_contours") >= level
    contours, _ = cv2.findContours(inside.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), int(thickness))
    return out


def verdict_colour(failed: bool) -> tuple[int, int, int]:
    """The one green/red the app uses for PASS and FAIL everywhere."""
    return FAIL_COLOUR if failed else PASS_COLOUR


def _lay_over(picture: np.ndarray, layer: np.ndarray) -> None:
    """"Source over" in place: ``picture = layer + picture · (255 − A) / 255``, rounded to the nearest integer.

    OpenCV's scaled multiply rounds exactly here: a whole number over 255 (odd) is never halfway, and its float
    error stays far below the distance to halfway. It is used rather than numpy's integer division, which takes
    about five times as long. The sum never passes 255, as the layer is premultiplied.
    """
    weight = cv2.cvtColor(255 - layer[..., 3], cv2.COLOR_GRAY2RGB)
    kept = cv2.multiply(picture, weight, scale=1 / 255)
    cv2.add(kept, cv2.cvtColor(layer, cv2.COLOR_BGRA2RGB), dst=picture)


def _check_quads(out: np.ndarray, size: tuple[int, ...] | None, what: str) -> None:
    """Refuse an ``out`` that is not a writable C-contiguous uint8 H×W×4 array (of ``size`` H×W when given)."""
    shape_ok = np.ndim(out) == 3 and out.shape[2] == 4 and (size is None or out.shape[:2] == tuple(size))
    if out.dtype != np.uint8 or not shape_ok or not out.flags.c_contiguous or not out.flags.writeable:
        wanted = "H×W" if size is None else "×".join(str(n) for n in size)
        msg = f"{what} must be a writable C-contiguous uint8 {wanted}×4 array, got {out.dtype} {np.shape(out)}"
        raise ValueError(msg)


def _bins_below_threshold(vmax: float) -> int:
    """How many of the 256 table entries lie below 1.0; 1.0 always falls exactly on an entry's edge."""
    if not 1.0 < vmax <= 256.0:
        msg = f"vmax must be above 1.0 (the threshold) and at most 256, got {vmax!r}"
        raise ValueError(msg)
    return int(min(max(round(256.0 / vmax), 1), 255))


def _map_to_index(m: np.ndarray, vmax: float) -> np.ndarray:
    """float32 map -> uint8 table index; index < bins_below_threshold exactly when value < 1.0.

    Entry i holds the values from i / bins up to (i + 1) / bins. Only operations whose NaN and inf handling
    is documented are used (OpenCV changed what its clamping does with NaN): NaN, a model's failure rather
    than an anomaly, takes the coldest entry; ±inf clip to the ends.
    """
    bins = _bins_below_threshold(vmax)
    with np.errstate(over="ignore"):  # a huge value times bins is +inf, which the clamping below handles
        values = np.multiply(m, np.float32(bins))
    cv2.patchNaNs(values, 0.0)  # before clamping: OpenCV documents its thresholds for numbers, not NaN
    cv2.threshold(values, 0.0, 0.0, cv2.THRESH_TOZERO, dst=values)  # below 0 (and -inf) -> 0
    cv2.threshold(values, 255.0, 0.0, cv2.THRESH_TRUNC, dst=values)  # above 255 (and +inf) -> 255
    index = values.astype(np.uint8)  # truncation is floor: every value is in [0, 255]
    if bins & (bins - 1):  # not a power of two: value · bins can round up to bins for a value just below 1.0
        np.minimum(index, bins - 1, out=index, where=m < 1.0)
    return index


@functools.lru_cache(maxsize=8)
def _colour_scale(vmax: float) -> np.ndarray:
    """The 256 colours of the scale for one ``vmax`` as read-only 256×3 uint8: entry i stands for values from
    i / bins."""
    below = _bins_below_threshold(vmax)
    cold = _interpolate(_COLD_ANCHORS, np.arange(below) / below)
    warm = _interpolate(_WARM_ANCHORS, np.arange(256 - below) / max(255 - below, 1))
    scale = np.concatenate([cold, warm])
    scale.flags.writeable = False
    return scale


@functools.lru_cache(maxsize=16)
def _layer_table(opacity: float, vmax: float) -> np.ndarray:
    """Per table index, the layer's bytes B, G, R, A as read-only 256×4 uint8: A is the pixel's opacity
    (``opacity`` times the ramp) and B, G, R the scale's colour premultiplied by it."""
    values = np.arange(256) / _bins_below_threshold(vmax)
    alpha = np.rint(255 * opacity * np.clip((values - _RAMP_START) / (1.0 - _RAMP_START), 0.0, 1.0))
    table = np.empty((256, 4), np.uint8)
    table[:, 2::-1] = np.rint(_colour_scale(vmax) * alpha[:, None] / 255)
    table[:, 3] = alpha
    table.flags.writeable = False
    return table


def _interpolate(anchors: tuple[tuple[float, tuple[int, int, int]], ...], positions: np.ndarray) -> np.ndarray:
    stops = [p for p, _ in anchors]
    channels = [np.interp(positions, stops, [rgb[c] for _, rgb in anchors]) for c in range(3)]
    return np.rint(np.stack(channels, axis=1)).astype(np.uint8)
