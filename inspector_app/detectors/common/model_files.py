"""Reading a model version's files with a reason a person can act on: missing, corrupt or the wrong shape.

Every family's ``load`` goes through these, so a damaged ``model.keras`` says "corrupt" (Keras itself says
"File not found" for a file that exists but is no archive) and a wrong-shape array is refused at load time
instead of failing with a broadcasting error on the first frame. Nothing here unpickles or runs code: arrays
load with ``allow_pickle=False`` and Keras models in safe mode.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.errors import ModelStoreError
from inspector_app.detectors.common import runtime


def model_file(folder: Path, name: str) -> Path:
    """``folder / name`` if it is a file inside ``folder``, else a ModelStoreError that says which is missing."""
    folder = Path(folder)
    path = folder / name
    if Path(name).name != name:  # file names are constants of the family; never a path from a file
        msg = f"{folder}: {name!r} is not a plain file name"
        raise ModelStoreError(msg)
    if not path.is_file():
        msg = f"{folder} is incomplete: {name} is missing"
        raise ModelStoreError(msg)
    return path


def load_keras_model(folder: Path, name: str) -> Any:
    """A Keras model from ``folder / name`` in safe mode (no Lambda layers, no arbitrary code)."""
    path = model_file(folder, name)
    if not zipfile.is_zipfile(path):
        msg = f"{path} is corrupt: not a Keras model archive"
        raise ModelStoreError(msg)
    try:
        return runtime.keras().saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a damaged archive; each means corrupt
        msg = f"{path} is corrupt or was not saved by this app: {type(exc).__name__}: {exc}"
        raise ModelStoreError(msg) from exc


def load_array(folder: Path, name: str, shape: tuple[int | None, ...] | None = None) -> np.ndarray:
    """A ``.npy`` array without unpickling, checked to be finite numbers of ``shape`` (None = any length)."""
    path = model_file(folder, name)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        msg = f"{path} is corrupt: {exc}"
        raise ModelStoreError(msg) from exc
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        msg = f"{path} is corrupt: expected an array of numbers, found {getattr(array, 'dtype', type(array))}"
        raise ModelStoreError(msg)
    if shape is not None and (array.ndim != len(shape) or any(
            want is not None and have != want for have, want in zip(array.shape, shape, strict=True))):
        wanted = "×".join("N" if s is None else str(s) for s in shape)
        msg = f"{path} has shape {'×'.join(map(str, array.shape))}, expected {wanted}: it belongs to another model"
        raise ModelStoreError(msg)
    if not np.all(np.isfinite(array)):
        msg = f"{path} is corrupt: it holds values that are not finite"
        raise ModelStoreError(msg)
    return array
