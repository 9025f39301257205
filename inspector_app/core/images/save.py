"""Writing pictures to files, atomically."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import numpy as np
from PIL import Image

from inspector_app.core.images.convert import to_rgb_uint8


def save_image(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write an image losslessly (PNG, or the format the extension names), atomically.

    The file is written under a temporary name in the same folder and then renamed over ``path``, so a reader
    (or a crash of the app) never sees half a file. 2-D ``uint8`` is saved as greyscale; anything else goes
    through :func:`~inspector_app.core.images.to_rgb_uint8` and is saved as 8-bit RGB. JPEG is written at
    quality 95 (lossy by nature).

    Raises:
        ValueError: The extension names no format Pillow can write, or the array is not an image.
        OSError: The folder does not exist or is not writable.
    """
    target = Path(path)
    fmt = Image.registered_extensions().get(target.suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        msg = f"cannot save {target}: no image format for the extension {target.suffix!r} (use .png)"
        raise ValueError(msg)
    picture = Image.fromarray(_for_saving(image))
    temporary = target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with temporary.open("xb") as fh:  # "x": never clobber; the umask gives the usual permissions
            picture.save(fh, format=fmt, **_save_options(fmt))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _for_saving(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype == np.uint8 and (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 1)):
        return np.ascontiguousarray(arr.reshape(arr.shape[:2]))
    return to_rgb_uint8(arr)


def _save_options(fmt: str) -> dict[str, object]:
    if fmt == "PNG":
        return {"compress_level": 3}  # faster than Pillow's default (6) for slightly larger files
    if fmt == "JPEG":
        return {"quality": 95}
    return {}
