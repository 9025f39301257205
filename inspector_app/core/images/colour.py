"""How anomaly maps become colour: the one fixed colour scale, the heatmap overlay, mask outlines, PASS/FAIL."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import cv2
import numpy as np

from inspector_app.core.images.convert import to_rgb_uint8
from inspector_app.core.images.resizing import as_map, map_at, resize, resize_map

HEATMAP_VMAX: float = 2.0
"""Normalised map value drawn at the top of the colour scale (1.0 is the threshold)."""

PASS_COLOUR: tuple[int, int, int] = (46, 160, 67)
FAIL_COLOUR: tuple[int, int, int] = (215, 38, 56)

# Overlay work is done in strips of about this many pixels, small enough to stay in the CPU cache.
_STRIP_PIXELS = 1 << 16

# Overlay: a pixel's heatmap opacity ramps from 0 at this normalised value up to full at the threshold (1.0).
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
    colour always means the same value. A 256-entry lookup table is built once per ``vmax``.

    Raises:
        ValueError: The map is not 2-D, or ``vmax`` is not within (1, 256].
    """
    index = _map_to_index(as_map(norm_map, "heatmap_rgb"), vmax)
    return _lookup_rgb(index, _colour_table(vmax))


def overlay_heatmap(image: np.ndarray, norm_map: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """Blend :func:`heatmap_rgb` over a picture so anomalies stand out and a good part stays clean.

    Each pixel's heatmap opacity is ``opacity`` times a ramp from 0 (value <= 0.3) to 1 (value >= 1.0),
    so a good part is left as it is. A map of another size is resized (bilinear) to the image first.

    Args:
        image: The picture, ``uint8`` RGB (anything :func:`to_rgb_uint8` accepts).
        norm_map: Map normalised by the threshold (1.0 = the threshold).
        opacity: Heatmap opacity at and above the threshold, 0..1.

    Returns:
        A new ``uint8`` RGB array of the image's size.
    """
    rgb = to_rgb_uint8(image)
    out = np.empty_like(rgb)
    for top, strip in _overlay_strips(rgb, norm_map, opacity):
        out[top : top + len(strip)] = strip
    return out


def heat_layer_bgra(norm_map: np.ndarray, opacity: float, out: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The overlay of :func:`overlay_heatmap` as a layer to lay over the picture, written into ``out``.

    ``out`` (``uint8`` H×W×4, the picture's size; the map is resized to it when it differs) gets bytes
    B, G, R, A per pixel with the colour already multiplied by its opacity (Qt's ``ARGB32_Premultiplied``
    layout on a little-endian machine). Laying it over the picture with the usual "source over" rule,
    ``layer + picture · (255 − A) / 255`` rounded, gives exactly what :func:`overlay_heatmap` returns, and a
    display can do that blend itself: at 1280×1024 Qt's raster painter took 0.4–0.8 ms here, OpenCV's
    per-pixel multiply and add about 2 ms.

    Only the regions returned are written, as ``(x, y, width, height)``: per strip of rows, the columns that
    hold a pixel above the ramp's start; none on a good part, where there is nothing to lay over.
    """
    _check_quads(out, None, "layer")
    m = as_map(norm_map, "heat_layer_bgra")  # a bad map is refused whatever the opacity, as by overlay_heatmap
    height, width = out.shape[:2]
    if not opacity > 0 or height == 0 or width == 0:  # NaN opacity included
        return []
    m = map_at(m, height, width, "heat_layer_bgra")
    table = _layer_table(float(min(opacity, 1.0)), HEATMAP_VMAX)
    words = out.view(np.int32).reshape(height, width)
    regions = []
    step = _strip_rows(width)
    for top in range(0, height, step):
        found = _columns_to_blend(m[top : top + step])
        if found is not None:
            index, cols = found
            cv2.LUT(index, table, dst=words[top : top + len(index), cols])
            regions.append((cols.start, top, cols.stop - cols.start, len(index)))
    return regions


def rgb_to_bgrx(image: np.ndarray, out: np.ndarray) -> None:
    """Write a picture into ``out`` (``uint8`` H×W×4) as bytes B, G, R, 255.

    That is how a 32-bit ``0xffRRGGBB`` pixel lies in memory on a little-endian machine, the layout a screen
    draws from, so a display can show the result without converting it again.
    """
    _check_quads(out, np.shape(image)[:2], "output")
    cv2.cvtColor(to_rgb_uint8(image), cv2.COLOR_RGB2BGRA, dst=out)


def _check_quads(out: np.ndarray, size: tuple[int, ...] | None, what: str) -> None:
    """Refuse an ``out`` that is not a writable C-contiguous uint8 H×W×4 array (of ``size`` H×W when given)."""
    shape_ok = np.ndim(out) == 3 and out.shape[2] == 4 and (size is None or out.shape[:2] == tuple(size))
    if out.dtype != np.uint8 or not shape_ok or not out.flags.c_contiguous or not out.flags.writeable:
        wanted = "H×W" if size is None else "×".join(str(n) for n in size)
        msg = f"{what} must be a writable C-contiguous uint8 {wanted}×4 array, got {out.dtype} {np.shape(out)}"
        raise ValueError(msg)


def _overlay_strips(rgb: np.ndarray, norm_map: np.ndarray, opacity: float) -> Iterator[tuple[int, np.ndarray]]:
    """The overlaid picture as (first row, RGB rows) strips that fit in the CPU cache, top to bottom.

    A strip with nothing above the ramp's start is the picture's own rows (a view, not a copy).
    """
    m = map_at(norm_map, *rgb.shape[:2], "overlay_heatmap")
    tables = _blend_tables(float(min(opacity, 1.0)), HEATMAP_VMAX) if opacity > 0 else None  # NaN: none
    step = _strip_rows(rgb.shape[1])
    for top in range(0, len(rgb), step):
        rows = rgb[top : top + step]
        yield top, rows if tables is None else _blend_strip(rows, m[top : top + step], tables)


def _strip_rows(width: int) -> int:
    """Rows per strip: a strip's map, indices and colours stay in the CPU cache while it is blended."""
    return max(1, _STRIP_PIXELS // width)


def draw_mask_contours(
    image: np.ndarray,
    mask: np.ndarray,
    colour: tuple[int, int, int] = (255, 40, 40),
    thickness: int = 2,
    level: float = 0.5,
) -> np.ndarray:
    """Outline the regions where ``mask >= level``, leaving the pixels inside visible.

    Args:
        image: The picture (anything :func:`to_rgb_uint8` accepts).
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
        values = as_map(m, "draw_mask_contours")
        if values.shape != (height, width):
            values = resize_map(values, height, width)
        inside = values >= level
    contours, _ = cv2.findContours(inside.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), int(thickness))
    return out


def verdict_colour(failed: bool) -> tuple[int, int, int]:
    """The one green/red the app uses for PASS and FAIL everywhere."""
    return FAIL_COLOUR if failed else PASS_COLOUR


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


def _lookup_rgb(index: np.ndarray, packed: np.ndarray) -> np.ndarray:
    """Index -> RGB through a table of 4-byte entries: one 1-channel cv2.LUT is much faster than a 3-channel one."""
    quad = cv2.LUT(index, packed).view(np.uint8).reshape(*index.shape, 4)
    return cv2.cvtColor(quad, cv2.COLOR_RGBA2RGB)


def _pack(rgb: np.ndarray) -> np.ndarray:
    """256×3 uint8 -> 256 int32 whose bytes are R, G, B, 0 (read back with a byte view, so endianness-free)."""
    quad = np.zeros((256, 4), np.uint8)
    quad[:, :3] = rgb
    return _packed_quads(quad)


def _packed_quads(quad: np.ndarray) -> np.ndarray:
    """256×4 uint8 -> 256 read-only int32, each holding one row's 4 bytes in order (a one-channel LUT)."""
    packed = np.ascontiguousarray(quad, np.uint8).view(np.int32).reshape(256)
    packed.flags.writeable = False
    return packed


def _colour_scale(vmax: float) -> np.ndarray:
    """The 256 colours of the scale for one ``vmax`` as 256×3 uint8: entry i stands for values from i / bins."""
    below = _bins_below_threshold(vmax)
    cold = _interpolate(_COLD_ANCHORS, np.arange(below) / below)
    warm = _interpolate(_WARM_ANCHORS, np.arange(256 - below) / max(255 - below, 1))
    return np.concatenate([cold, warm])


@functools.lru_cache(maxsize=8)
def _colour_table(vmax: float) -> np.ndarray:
    """The colour scale, built once per ``vmax``, packed for :func:`_lookup_rgb`."""
    return _pack(_colour_scale(vmax))


def _blend_strip(rows: np.ndarray, m: np.ndarray, tables: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """One strip with the heatmap blended in: ``image * (1 - alpha) + heat * alpha``; ``rows`` is not written.

    Working in strips that fit in the CPU cache makes this about twice as fast as whole-frame operations,
    and only the columns holding pixels above the ramp's start are touched (on a good part, none are, and
    ``rows`` itself is returned).
    """
    found = _columns_to_blend(m)
    if found is None:
        return rows
    index, cols = found
    keep, add = tables
    blended = cv2.multiply(rows[:, cols], _lookup_rgb(index, keep), scale=1.0 / 255.0)
    blended = cv2.add(blended, _lookup_rgb(index, add), dst=blended)
    if blended.shape[1] == rows.shape[1]:
        return blended
    out = rows.copy()
    out[:, cols] = blended
    return out


def _columns_to_blend(m: np.ndarray) -> tuple[np.ndarray, slice] | None:
    """The table index of the columns holding a pixel above the ramp's start, and those columns; None if none."""
    index = _map_to_index(m, HEATMAP_VMAX)
    x, _, w, _ = cv2.boundingRect((index >= _first_ramp_index(HEATMAP_VMAX)).view(np.uint8))
    if w == 0:
        return None
    cols = slice(x, x + w)
    return index[:, cols], cols


def _first_ramp_index(vmax: float) -> int:
    """The lowest table index whose overlay opacity can be above zero."""
    return int(np.ceil(_RAMP_START * _bins_below_threshold(vmax)))


@functools.lru_cache(maxsize=16)
def _blend_tables(opacity: float, vmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-index (image weight ×255, heat colour × alpha) tables, packed for :func:`_lookup_rgb`."""
    values = np.arange(256) / _bins_below_threshold(vmax)
    alpha = np.rint(255 * opacity * np.clip((values - _RAMP_START) / (1.0 - _RAMP_START), 0.0, 1.0)) / 255
    colours = _colour_scale(vmax)
    keep = np.repeat(np.rint(255 * (1 - alpha))[:, None], 3, axis=1).astype(np.uint8)
    add = np.rint(colours * alpha[:, None]).astype(np.uint8)
    return _pack(keep), _pack(add)


@functools.lru_cache(maxsize=16)
def _layer_table(opacity: float, vmax: float) -> np.ndarray:
    """Per-index premultiplied colour as bytes B, G, R, A (A = 255 − the image weight), packed for cv2.LUT."""
    keep, add = (table.view(np.uint8).reshape(256, 4) for table in _blend_tables(opacity, vmax))
    quad = add[:, [2, 1, 0, 3]]
    quad[:, 3] = 255 - keep[:, 0]
    return _packed_quads(quad)


def _interpolate(anchors: tuple[tuple[float, tuple[int, int, int]], ...], positions: np.ndarray) -> np.ndarray:
    stops = [p for p, _ in anchors]
    channels = [np.interp(positions, stops, [rgb[c] for _, rgb in anchors]) for c in range(3)]
    return np.rint(np.stack(channels, axis=1)).astype(np.uint8)
