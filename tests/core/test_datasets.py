"""Dataset layouts (MVTec and plain), checks, validation splits and tolerant image loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inspector_app.core.datasets import (
    Sample,
    list_images,
    load_images,
    load_masks,
    natural_key,
    open_dataset,
    split_validation,
    typical_defect_side,
    typical_size,
    write_mvtec_layout,
)
from inspector_app.core.demo_parts import render_part
from inspector_app.core.errors import DatasetError

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _png(path: Path, size: tuple[int, int] = (32, 32), value: int = 128, mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, value // 2, 255 - value)).save(path)
    return path


def _mask(path: Path, size: tuple[int, int] = (32, 32)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros((size[1], size[0]), np.uint8)
    pixels[4:12, 4:12] = 255
    Image.fromarray(pixels).save(path)
    return path


def _plain(root: Path, good: int = 3, defects: dict[str, int] | None = None, flat: int = 0) -> Path:
    for i in range(good):
        _png(root / "good" / f"g{i}.png", value=10 * i)
    for i in range(flat):
        _png(root / "defect" / f"d{i}.png", value=200)
    for kind, n in (defects or {}).items():
        for i in range(n):
            _png(root / "defect" / kind / f"{kind}{i}.png", value=220)
    return root


@pytest.fixture
def mvtec(tmp_path: Path) -> Path:
    good = [render_part(i, 32)[0] for i in range(5)]
    defects = {kind: [render_part(50 + i, 32, defect=kind) for i in range(2)] for kind in ("scratch", "hole")}
    return write_mvtec_layout(tmp_path / "parts", good[:3], good[3:], defects)


# -- layouts ------------------------------------------------------------------------------------------------


def test_mvtec_layout_detected_counted_and_masks_paired(mvtec: Path) -> None:
    ds = open_dataset(mvtec)
    assert ds.layout == "mvtec"
    assert ds.counts() == {"train/good": 3, "test/good": 2, "test/hole": 2, "test/scratch": 2}
    assert [s.split for s in ds.training_samples()] == ["train"] * 3
    assert all(s.label == "good" for s in ds.training_samples())
    evaluation = ds.evaluation_samples()
    assert len(evaluation) == 6 and {s.split for s in evaluation} == {"test"}
    defects = [s for s in evaluation if s.label == "defect"]
    assert {s.defect_type for s in defects} == {"hole", "scratch"}
    for s in defects:
        assert s.mask_path == mvtec / "ground_truth" / s.defect_type / f"{s.path.stem}_mask.png"
    assert all(s.mask_path is None for s in ds.samples if s.label == "good")


def test_write_mvtec_layout_round_trips_masks(mvtec: Path) -> None:
    ds = open_dataset(mvtec)
    defects = [s for s in ds.evaluation_samples() if s.label == "defect"]
    masks = load_masks(defects, 32)
    expected = [render_part(50 + i, 32, defect=kind)[1] for kind in ("hole", "scratch") for i in range(2)]
    assert masks.dtype == bool and masks.shape == (4, 32, 32)
    np.testing.assert_array_equal(masks, np.stack(expected))


def test_plain_layout_without_types(tmp_path: Path) -> None:
    root = _plain(tmp_path / "plain", good=3, flat=2)
    ds = open_dataset(root)
    assert ds.layout == "plain"
    assert ds.counts() == {"good": 3, "defect": 2}
    assert [s.defect_type for s in ds.samples] == ["good"] * 3 + ["defect"] * 2
    assert ds.training_samples() == ds.evaluation_samples() == ds.samples


def test_plain_layout_with_type_folders_and_masks(tmp_path: Path) -> None:
    root = _plain(tmp_path / "plain", good=2, defects={"scratch": 2, "hole": 1})
    _mask(root / "masks" / "scratch0.png")
    _mask(root / "masks" / "scratch1_mask.png")
    _mask(root / "masks" / "hole" / "hole0.png")
    ds = open_dataset(root)
    assert ds.counts() == {"good": 2, "defect/hole": 1, "defect/scratch": 2}
    masks = {s.path.name: s.mask_path for s in ds.samples if s.label == "defect"}
    assert masks == {
        "hole0.png": root / "masks" / "hole" / "hole0.png",
        "scratch0.png": root / "masks" / "scratch0.png",
        "scratch1.png": root / "masks" / "scratch1_mask.png",
    }


def test_natural_sort_order(tmp_path: Path) -> None:
    for name in ["img10.png", "img2.png", "IMG1.png", "img2b.png", "notes.txt", ".hidden.png"]:
        _png(tmp_path / "good" / name) if name.endswith(".png") else (tmp_path / "good" / name).write_text("x")
    assert [p.name for p in list_images(tmp_path / "good")] == ["IMG1.png", "img2.png", "img2b.png", "img10.png"]
    assert [s.path.name for s in open_dataset(tmp_path).samples] == ["IMG1.png", "img2.png", "img2b.png", "img10.png"]
    assert sorted(["a10", "a9", "b1"], key=natural_key) == ["a9", "a10", "b1"]


# -- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: root.mkdir(), r"is empty.*MVTec layout.*plain layout"),
        (lambda root: _png(root / "pictures" / "a.png"), r"neither layout \(found pictures/\)"),
        (lambda root: _png(root / "a.png"), r"loose images"),
        (lambda root: (root / "good").mkdir(parents=True), r"good has no images"),
        (lambda root: (_plain(root), (root / "defect").mkdir()), r"defect has no images"),
        (lambda root: (root / "train" / "good").mkdir(parents=True), r"train/good has no images"),
        (lambda root: _png(root / "train" / "ok" / "a.png"), r"train has no good/ sub-folder \(found ok\)"),
        (lambda root: None, r"does not exist"),
    ],
    ids=["empty", "neither", "loose", "empty-good", "empty-defect", "empty-train-good", "no-train-good", "missing"],
)
def test_bad_folders_raise_dataset_error_naming_the_folder(tmp_path: Path, make: object, expected: str) -> None:
    root = tmp_path / "data"
    make(root)  # type: ignore[operator]
    with pytest.raises(DatasetError, match=expected) as info:
        open_dataset(root)
    assert str(tmp_path) in str(info.value)


def test_nested_dataset_hint(mvtec: Path) -> None:
    with pytest.raises(DatasetError, match=r"did you mean one of its sub-folders \(parts\)"):
        open_dataset(mvtec.parent)


def test_mvtec_mask_without_image(mvtec: Path) -> None:
    _mask(mvtec / "ground_truth" / "scratch" / "077_mask.png")
    with pytest.raises(DatasetError, match=r"without a matching test image \(scratch/077_mask.png\)"):
        open_dataset(mvtec)


def test_plain_mask_without_image(tmp_path: Path) -> None:
    root = _plain(tmp_path / "plain", flat=1)
    _mask(root / "masks" / "d0.png")
    _mask(root / "masks" / "ghost_mask.png")
    with pytest.raises(DatasetError, match=r"without a matching defect image \(ghost_mask.png\)"):
        open_dataset(root)


def test_plain_flat_mask_shared_by_two_types_is_ambiguous(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    _png(root / "good" / "g.png")
    _png(root / "defect" / "a" / "001.png")
    _png(root / "defect" / "b" / "001.png")
    _mask(root / "masks" / "001.png")
    with pytest.raises(DatasetError, match=r"matches several defect images"):
        open_dataset(root)


# -- check --------------------------------------------------------------------------------------------------


def test_check_is_quiet_for_a_clean_dataset(tmp_path: Path) -> None:
    good = [render_part(i, 32)[0] for i in range(16)]
    root = write_mvtec_layout(tmp_path / "d", good, good[:2], {"hole": [render_part(99, 32, defect="hole")]})
    assert open_dataset(root).check() == []


def test_check_warnings(tmp_path: Path) -> None:
    root = _plain(tmp_path / "plain", good=3, flat=3)
    _png(root / "good" / "big.png", size=(48, 40))
    (root / "good" / "broken.png").write_bytes(b"not a png")
    _mask(root / "masks" / "d0.png")
    _mask(root / "masks" / "d1.png", size=(16, 16))
    warnings = open_dataset(root).check()
    text = "\n".join(warnings)
    assert "only 5 good training image(s)" in text
    assert "image sizes vary (2 sizes" in text and "48×40" in text
    assert "1 of 3 defect images have no mask (d2.png)" in text
    assert "d1.png 16×16 vs image d1.png 32×32" in text
    assert "unreadable file(s): broken.png" in text
    assert len(warnings) == 5


def test_check_sample_limit_caps_files_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _plain(tmp_path / "plain", good=20)
    opened: list[Path] = []
    real_open = Image.open

    def counting_open(path: Path, *args: object, **kwargs: object) -> Image.Image:
        opened.append(Path(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image, "open", counting_open)
    ds = open_dataset(root)
    assert ds.check(sample_limit=5) == []
    assert len(opened) == 5 and opened[0].name == "g0.png" and opened[-1].name != "g4.png"  # spread, not first 5
    opened.clear()
    ds.check(sample_limit=None)
    assert len(opened) == 20


# -- split --------------------------------------------------------------------------------------------------


def _samples(counts: dict[str, int]) -> list[Sample]:
    return [
        Sample(Path(f"/d/{kind}/{i}.png"), "good" if kind == "good" else "defect", kind, "train")
        for kind, n in counts.items()
        for i in range(n)
    ]


def test_split_is_reproducible_order_independent_and_stratified() -> None:
    samples = _samples({"good": 50, "scratch": 10, "hole": 5})
    train, val = split_validation(samples, 0.2, seed=3)
    again = split_validation(list(reversed(samples)), 0.2, seed=3)
    assert (train, val) == again
    assert split_validation(samples, 0.2, seed=4) != (train, val)
    assert sorted(train + val, key=str) == sorted(samples, key=str)
    per_type = {kind: sum(s.defect_type == kind for s in val) for kind in ("good", "scratch", "hole")}
    assert per_type == {"good": 10, "scratch": 2, "hole": 1}


@pytest.mark.parametrize(
    ("counts", "fraction", "minimum", "val_size"),
    [
        ({"good": 2}, 0.2, 1, 1),  # round(0.4) = 0, but the minimum holds one out
        ({"good": 1}, 0.5, 1, 0),  # a single sample always trains
        ({"good": 1, "hole": 1}, 0.2, 1, 1),  # one per type: borrowed across types
        ({"good": 10}, 0.0, 0, 0),
        ({"good": 10}, 1.0, 1, 9),  # at least one always stays for training
        ({"good": 10, "hole": 3}, 0.1, 2, 4),
    ],
)
def test_split_minimum(counts: dict[str, int], fraction: float, minimum: int, val_size: int) -> None:
    train, val = split_validation(_samples(counts), fraction, seed=0, minimum=minimum)
    assert len(val) == val_size and len(train) + len(val) == sum(counts.values())


def test_split_rejects_a_bad_fraction() -> None:
    with pytest.raises(ValueError, match=r"got 1\.5"):
        split_validation(_samples({"good": 4}), 1.5)


# -- loading ------------------------------------------------------------------------------------------------


def test_load_images_skips_a_corrupt_file_and_reports_it(tmp_path: Path) -> None:
    root = _plain(tmp_path / "plain", good=3)
    _png(root / "good" / "wide.png", size=(64, 16))
    (root / "good" / "g1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    samples = open_dataset(root).samples
    errors: list[tuple[str, str]] = []
    steps: list[tuple[int, int]] = []
    images, kept = load_images(
        samples, 24, on_error=lambda p, r: errors.append((p.name, r)), progress=lambda *a: steps.append(a)
    )
    assert images.dtype == np.uint8 and images.shape == (3, 24, 24, 3)
    assert [s.path.name for s in kept] == ["g0.png", "g2.png", "wide.png"]
    assert len(errors) == 1 and errors[0][0] == "g1.png" and errors[0][1]
    assert steps[-1] == (4, 4) and len(steps) == 4


def test_load_images_without_callback_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "bad.png").write_bytes(b"")
    images, kept = load_images([Sample(tmp_path / "bad.png", "good", "good", "train")], 8)
    assert images.shape == (0, 8, 8, 3) and kept == []
    assert "bad.png" in caplog.text


def test_load_masks_good_and_unmasked_are_empty(tmp_path: Path) -> None:
    mask = _mask(tmp_path / "m.png")
    samples = [
        Sample(tmp_path / "a.png", "good", "good", "train"),
        Sample(tmp_path / "b.png", "defect", "defect", "train"),
        Sample(tmp_path / "c.png", "defect", "defect", "train", mask),
    ]
    masks = load_masks(samples, 16)
    assert masks.shape == (3, 16, 16) and masks.dtype == bool
    assert not masks[0].any() and not masks[1].any()
    assert masks[2, 2:6, 2:6].all() and masks[2].sum() == 16


# -- real data ----------------------------------------------------------------------------------------------


@pytest.mark.shared_data
def test_magnetic_tile_counts_match_its_readme() -> None:
    root = SHARED_DATA / "magnetic_tile"
    if not root.is_dir():
        pytest.skip(f"../shared/data not found: {root} is missing")
    ds = open_dataset(root)
    assert ds.layout == "mvtec"
    assert ds.counts() == {
        "train/good": 714, "test/good": 238, "test/blowhole": 115, "test/break": 85,
        "test/crack": 57, "test/fray": 32, "test/uneven": 103,
    }
    defects = [s for s in ds.evaluation_samples() if s.label == "defect"]
    assert len(defects) == 392 and all(s.mask_path is not None and s.mask_path.is_file() for s in defects)
    warnings = ds.check(sample_limit=60)
    assert any("image sizes vary" in w for w in warnings)
    assert not any("mask" in w for w in warnings)


def test_typical_size_does_not_depend_on_how_the_images_are_listed(tmp_path: Path) -> None:
    """The wizard lists a dataset's training images in folder order, a run in split order: the size they
    propose tiling from must be the same (a 16-image sample once gave 271×323 and 483×325 for one dataset)."""
    samples = []
    for i in range(90):
        path = tmp_path / f"{i:03d}.png"
        Image.new("L", (100 + 7 * ((i * 37) % 90), 50 + i)).save(path)
        samples.append(Sample(path, "good", "good", "train"))
    shuffled = [samples[i] for i in np.random.default_rng(0).permutation(len(samples))]
    assert typical_size(samples) == typical_size(shuffled) == typical_size(samples[::-1])


def test_typical_defect_side_does_not_depend_on_how_the_images_are_listed(tmp_path: Path) -> None:
    samples = []
    for i in range(30):
        mask = np.zeros((100, 100), np.uint8)
        mask[10:20 + 2 * i, 10:90] = 255  # narrower side 10 + 2i px
        Image.fromarray(mask).save(tmp_path / f"m{i:02d}.png")
        samples.append(Sample(tmp_path / f"d{i:02d}.png", "defect", "dent", "test", tmp_path / f"m{i:02d}.png"))
    shuffled = [samples[i] for i in np.random.default_rng(1).permutation(len(samples))]
    side = typical_defect_side(samples, limit=7)
    assert side is not None and side == typical_defect_side(shuffled, limit=7) == typical_defect_side(samples[::-1], limit=7)
