"""Resizing pictures, masks and anomaly maps, and making maps finite before they are resized or drawn.

The module is not called ``resize`` so that it is not hidden by the function of that name, which the
package re-exports.
"""

from __future__ import annotations

import cv2
import numpy as np

_INTERPOLATIONS = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "cubic": cv2.INTER_CUBIC,
}
_RESIZABLE_DTYPES = frozenset(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64, bool))
_FAR = 1e30  # stands for ±inf in a cleaned map: far beyond any colour, still finite when interpolated


def resize(image: np.ndarray, size: int | tuple[int, int], interpolation: str = "area") -> np.ndarray:
    """Resize to a square ``size`` or to ``(width, height)``, keeping dtype and channel count.

    ``"area"`` (the default) averages pixels, which is right for shrinking; where it would enlarge an axis,
    bilinear is used instead, because OpenCV's area mode enlarges blockily. ``"linear"``, ``"nearest"`` and
    ``"cubic"`` are used as asked. ``bool`` masks come back ``bool`` (resampled, then cut at one half).

    Raises:
        ValueError: Unknown interpolation, a size that is not positive, or an unsupported dtype.
    """
    width, height = _size_pair(size)
    arr = np.asarray(image)
    if arr.dtype not in _RESIZABLE_DTYPES or arr.ndim not in (2, 3) or 0 in arr.shape:
        dtypes = ", ".join(sorted(map(str, _RESIZABLE_DTYPES)))
        msg = f"resize expects a non-empty H×W or H×W×C image of {dtypes}; got shape {arr.shape} dtype {arr.dtype}"
        raise ValueError(msg)
    flag = _interpolation_flag(interpolation, enlarging=width > arr.shape[1] or height > arr.shape[0])
    src = arr.view(np.uint8) * np.uint8(255) if arr.dtype == bool else arr
    out = cv2.resize(src, (width, height), interpolation=flag)
    if arr.ndim == 3 and out.ndim == 2:  # OpenCV drops a single channel axis
        out = out[:, :, None]
    return out >= 128 if arr.dtype == bool else out


def resize_map(map_: np.ndarray, height: int, width: int) -> np.ndarray:
    """A float map -> ``float32`` ``(height, width)``: bilinear when enlarging (anomaly maps to the input).

    When shrinking both axes, pixel areas are averaged instead, so a small hot spot is not skipped over.

    Raises:
        ValueError: The map is not 2-D (``H×W×1`` is accepted) or the size is not positive.
    """
    m = finite_map(as_map(map_, "resize_map"))
    _size_pair((width, height))
    shrinking = height <= m.shape[0] and width <= m.shape[1]
    flag = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(m, (int(width), int(height)), interpolation=flag)


def shrink_map_by_max(map_: np.ndarray, factor: int) -> np.ndarray:
    """Shrink a map by a whole ``factor``, each k×k block becoming its largest value (NaN ignored).

    For drawing a map smaller than its frame: averaging would let a hot spot narrower than a block fall
    below the threshold, so a failing part could show no outline and the wrong colour. Rows and columns
    beyond the last whole block are dropped. ``bool`` masks stay ``bool`` (a block is set if any pixel is).
    """
    m = np.asarray(map_)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    k = int(factor)
    if m.ndim != 2 or k < 1 or m.shape[0] < k or m.shape[1] < k:
        msg = f"shrink_map_by_max needs a 2-D map of at least {factor}×{factor}, got shape {np.shape(map_)}"
        raise ValueError(msg)
    if k == 1:
        return m
    whole = m[: m.shape[0] // k * k, : m.shape[1] // k * k]
    out = whole[0::k, 0::k].copy()
    for dy in range(k):
        for dx in range(k):
            if dy or dx:
                np.fmax(out, whole[dy::k, dx::k], out=out)
    return out


def thumbnail(image: np.ndarray, max_side: int = 160) -> np.ndarray:
    """Shrink so the longer side is ``max_side``, keeping the aspect ratio; never enlarges (returns a copy)."""
    arr = np.asarray(image)
    height, width = arr.shape[:2]
    scale = max_side / max(height, width, 1)
    if scale >= 1.0:
        return arr.copy()
    return resize(arr, (max(1, round(width * scale)), max(1, round(height * scale))), "area")


def finite_map(map_: np.ndarray) -> np.ndarray:
    """A float32 copy with NaN as 0 and ±inf as ±1e30, so interpolation and comparisons see finite numbers.

    A NaN pixel is a model's failure, not an anomaly: it must not paint or outline as one. OpenCV does not
    document what its resizing and clamping do with NaN or inf (and it changed between releases).
    """
    m = np.array(map_, np.float32)
    cv2.patchNaNs(m, 0.0)
    return np.clip(m, -_FAR, _FAR, out=m)


def as_map(map_: np.ndarray, caller: str) -> np.ndarray:
    """The map as a float32 ``H×W`` array (``H×W×1`` accepted); ``caller`` names the function in the error."""
    m = np.asarray(map_, dtype=np.float32)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.ndim != 2 or 0 in m.shape:
        msg = f"{caller} expects a 2-D H×W map, got shape {np.shape(map_)}"
        raise ValueError(msg)
    return m


def map_at(map_: np.ndarray, height: int, width: int, caller: str) -> np.ndarray:
    """The map as float32 at a picture's size (resized with :func:`resize_map` when it is not)."""
    m = as_map(map_, caller)
    return m if m.shape == (height, width) else resize_map(m, height, width)


def _size_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    width, height = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if int(width) < 1 or int(height) < 1:
        msg = f"size must be positive (width, height), got {size!r}"
        raise ValueError(msg)
    return int(width), int(height)


def _interpolation_flag(name: str, *, enlarging: bool) -> int:
    if name not in _INTERPOLATIONS:
        msg = f"interpolation must be one of {sorted(_INTERPOLATIONS)}, got {name!r}"
        raise ValueError(msg)
    if name == "area" and enlarging:
        return cv2.INTER_LINEAR
    return _INTERPOLATIONS[name]
