"""Property-based fuzzing of the image loader and the dataset opener: random and mutated bytes, random folder
trees. The only exception allowed out is the app's own clear error (ImageLoadError, DatasetError).

Bounded: 120 files and 60 folder trees in the normal suite (derandomized, so CI is repeatable), 2,500 files and
500 trees in the full fault suite (``pytest -m faults``); no deadline per example, as a shared machine's speed
varies.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fault_common import full_run, record_fault
from inspector_app.core.datasets import load_images, open_dataset
from inspector_app.core.errors import DatasetError, ImageLoadError
from inspector_app.core.images import load_image, load_mask

pytestmark = pytest.mark.faults

EXAMPLES = 2500 if full_run() else 120
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not full_run(), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
#: A dataset example writes and reads a whole folder tree: fewer of them.
FUZZ_TREES = settings(FUZZ, max_examples=500 if full_run() else 60)


def _encoded(fmt: str, mode: str) -> bytes:
    rng = np.random.default_rng(len(fmt) + len(mode))
    picture = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    picture.save(buffer, fmt)
    return buffer.getvalue()


#: Valid files of every format and a few pixel modes, for the mutations to start from.
SEEDS = [_encoded(fmt, mode) for fmt, modes in {"PNG": ("RGB", "L", "LA", "P", "1", "I;16"), "JPEG": ("RGB", "L", "CMYK"),
                                                "TIFF": ("RGB", "I;16", "F"), "BMP": ("RGB",), "GIF": ("P",),
                                                "WEBP": ("RGB", "RGBA")}.items() for mode in modes]
SUFFIXES = [".png", ".jpg", ".tif", ".bmp", ".gif", ".webp"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid image file with bytes flipped, cut, repeated or inserted, the header included."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "repeat"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


FILE_BYTES = st.one_of(st.binary(max_size=2048), mutated())


def _check_loaded(image: np.ndarray) -> None:
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous


_COUNTS = {"files": 0, "file_errors": 0, "trees": 0, "tree_errors": 0}


@FUZZ
@given(data=FILE_BYTES, suffix=st.sampled_from(SUFFIXES))
def _fuzz_the_loader(data: bytes, suffix: str) -> None:
    _COUNTS["files"] += 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzzed{suffix}"
        path.write_bytes(data)
        try:
            _check_loaded(load_image(path))
        except ImageLoadError as exc:
            assert exc.path == str(path) and exc.reason
            _COUNTS["file_errors"] += 1
        try:
            mask = load_mask(path, (8, 8))
            assert mask.dtype == bool and mask.shape == (8, 8)
        except ImageLoadError:
            pass


NAMES = st.sampled_from(["train", "test", "good", "defect", "ground_truth", "scratch", "hole", "x", ".hidden"])


@st.composite
def dataset_tree(draw: st.DrawFn) -> dict[str, bytes | None]:
    """Relative paths to file contents (None: a folder), two levels of the names a dataset uses."""
    layout = draw(st.sampled_from(["mvtec", "plain", "none"]))  # mostly trees the opener accepts, then broken
    bases = {"mvtec": ["train/good", "test/good", "test/scratch", "ground_truth/scratch"],
             "plain": ["good", "defect"], "none": []}[layout]
    tree: dict[str, bytes | None] = {f"{base}/{i:03d}.png": draw(st.sampled_from(SEEDS)) for base in bases
                                     for i in range(2)}
    for _ in range(draw(st.integers(0, 10))):
        parts = draw(st.lists(NAMES, min_size=1, max_size=3))
        if draw(st.booleans()):
            tree["/".join(parts)] = None
        else:
            name = draw(st.sampled_from(["000", "001", "000_mask", "a", "b_mask"])) + draw(st.sampled_from(SUFFIXES))
            tree["/".join([*parts, name])] = draw(st.one_of(st.sampled_from(SEEDS), FILE_BYTES, st.just(b"")))
    return tree


@FUZZ_TREES
@given(tree=dataset_tree())
def _fuzz_the_dataset_opener(tree: dict[str, bytes | None]) -> None:
    _COUNTS["trees"] += 1
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "dataset"
        root.mkdir()
        for relative, content in tree.items():
            path = root / relative
            try:
                if content is None:
                    path.mkdir(parents=True, exist_ok=True)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
            except (FileExistsError, NotADirectoryError, IsADirectoryError):
                continue  # a name already taken by a file or a folder: the tree simply lacks this entry
        try:
            dataset = open_dataset(root)
        except DatasetError as exc:
            assert str(exc)
            _COUNTS["tree_errors"] += 1
            return
        dataset.check()
        reported: list[str] = []
        for samples in (dataset.training_samples(), dataset.evaluation_samples()):
            images, kept = load_images(samples, 16, on_error=lambda path, reason: reported.append(reason))
            assert images.shape == (len(kept), 16, 16, 3)
        assert all(reported)


def test_the_loader_gives_pixels_or_its_own_error() -> None:
    """Random bytes and mutated image files: pixels, or ImageLoadError naming the file; never anything else."""
    _fuzz_the_loader()  # raises (with the shrunk example) on the first file that breaks the property
    record_fault("fuzzed image files (random and mutated bytes)", _COUNTS["files"], _COUNTS["files"], 0,
                 f"{_COUNTS['file_errors']} refused with the loader's own error, the rest read")


def test_the_dataset_opener_lists_checks_and_loads_or_says_why() -> None:
    """Random folder trees of dataset-like names holding random files: a dataset that lists, checks and loads
    (skipping what it cannot read), or DatasetError saying why; never anything else."""
    _fuzz_the_dataset_opener()
    record_fault("fuzzed dataset folder trees", _COUNTS["trees"], _COUNTS["trees"], 0,
                 f"{_COUNTS['tree_errors']} refused with DatasetError, the rest opened and loaded")


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_every_seed_file_is_readable(seed: int, tmp_path: Path) -> None:
    """The mutations start from files the loader reads, so what they break is the mutation's doing."""
    path = tmp_path / "seed.img"
    path.write_bytes(SEEDS[seed])
    _check_loaded(load_image(path))
