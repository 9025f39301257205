"""In-memory images of any dtype and channel count -> ``uint8`` RGB ``H×W×3``."""

from __future__ import annotations

import cv2
import numpy as np


def to_rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Any in-memory image -> ``uint8`` RGB ``H×W×3``, so drawing and saving need one input type only.

    Accepts ``H×W``, ``H×W×1``, ``H×W×3`` and ``H×W×4`` (alpha composited over black, as in
    :func:`~inspector_app.core.images.load_image`) in ``uint8``, ``uint16`` (scaled by 1/257), float in
    [0, 1] (clipped; NaN is 0), ``bool``, or other integer types holding 0..255. Channel order is taken to be
    RGB: converting OpenCV's BGR camera frames is the caller's job. An input that is already ``uint8`` RGB and
    C-contiguous is returned as it is, not copied.

    Raises:
        ValueError: The shape or dtype cannot be read as an image; the message names what was received.
    """
    arr = np.asarray(array)
    channels = arr.shape[2] if arr.ndim == 3 else 1
    if arr.ndim not in (2, 3) or channels not in (1, 3, 4):
        msg = f"to_rgb_uint8 expects H×W, H×W×1, H×W×3 or H×W×4; got shape {arr.shape} dtype {arr.dtype}"
        raise ValueError(msg)
    arr8 = _array_to_uint8(arr)
    if channels == 1:
        return grey_to_rgb(arr8.reshape(arr8.shape[:2]))
    if channels == 4:
        return composite_on_black(arr8)
    return np.ascontiguousarray(arr8)


def grey_to_uint8(values: np.ndarray) -> np.ndarray:
    """16/32-bit integer or float grey -> uint8 by scaling its nominal range into 0..255.

    Integer data within 0..65535 is taken as 16-bit (Pillow's 'I' mode usually holds 16-bit PNG or TIFF
    data); floats carry no declared range, so the smallest of 1, 255 and 65535 that holds the data is used.
    Only data beyond those ranges is scaled by its own maximum.
    """
    if values.dtype == np.uint8:
        return np.array(values)
    if values.dtype.kind in "ui":
        lo, top = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if lo >= 0 and top <= 65535:
            return _scale16(values)
    else:
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 1.0
        top = next((limit for limit in (1.0, 255.0, 65535.0) if top <= limit), top)
    return _unit_to_uint8(values.astype(np.float32) / max(top, 1e-12))


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """uint8 ``H×W`` -> uint8 RGB ``H×W×3`` with three equal channels."""
    return cv2.cvtColor(np.ascontiguousarray(grey), cv2.COLOR_GRAY2RGB)


def composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGBA -> RGB premultiplied by alpha (rounded), i.e. composited over black."""
    rgb = rgba[..., :3].astype(np.uint16)
    rgb *= rgba[..., 3:4]
    rgb += 127
    rgb //= 255
    return rgb.astype(np.uint8)


def _array_to_uint8(arr: np.ndarray) -> np.ndarray:
    kind = arr.dtype.kind
    if arr.dtype == np.uint8:
        return arr
    if kind == "b":
        return arr.view(np.uint8) * np.uint8(255)
    if kind == "u" and arr.dtype.itemsize == 2:
        return _scale16(arr)
    if kind == "f":
        return _unit_to_uint8(arr)
    if kind in "ui":
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo < 0 or hi > 255:
            msg = f"to_rgb_uint8: {arr.dtype} values must lie in 0..255, got {lo}..{hi} (shape {arr.shape})"
            raise ValueError(msg)
        return arr.astype(np.uint8)
    msg = f"to_rgb_uint8 cannot read dtype {arr.dtype} (shape {arr.shape}) as an image"
    raise ValueError(msg)


def _scale16(values: np.ndarray) -> np.ndarray:
    """0..65535 -> 0..255 rounded (v / 257), so 65535 is white and 32768 is mid-grey: scaled, not clipped."""
    wide = values.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _unit_to_uint8(values: np.ndarray) -> np.ndarray:
    """Float in [0, 1] -> uint8; out-of-range values clip, NaN becomes 0 (fmax/fmin ignore NaN)."""
    scaled = np.multiply(values, 255.0, dtype=np.float32)
    np.fmax(scaled, 0.0, out=scaled)
    np.fmin(scaled, 255.0, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)
