"""Every file of the bad-image set through each way in: the loader, the folder source, ``infer``, the dataset
loading for training and the review store. Each bad file gives one clear message naming it and is skipped;
every readable one is read, with its EXIF orientation applied; nothing raises anything but the loader's error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from bad_images import BadImage, make_bad_images, refuse_unreadable, remove_vanished
from helpers import tiny_parts_dataset
from inspector_app.core.captures import CaptureStore
from inspector_app.core.datasets import load_images, open_dataset, typical_size
from inspector_app.core.errors import ImageLoadError, printable
from inspector_app.core.images import load_image
from inspector_app.core.sources import Frame, FolderSource, SourceStatus

pytestmark = pytest.mark.faults

KEYS = ["empty", "truncated-jpeg", "truncated-png", "text-as-png", "png-16bit", "tiff-16bit", "grey", "grey-alpha",
        "rgba", "palette", "1-bit", "cmyk-jpeg", "exif-rotated", "1x1", "decompression-bomb", "vanished", "unreadable",
        "symlink-loop", "non-utf8-name"]


@pytest.fixture
def bad(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, BadImage]:
    made = make_bad_images(tmp_path / "bad")
    assert sorted(made) == sorted(KEYS)
    refuse_unreadable(made, monkeypatch)
    return made


def expected(made: dict[str, BadImage]) -> tuple[set[str], set[str]]:
    """Printable names of the files that must be read and of those that must be refused."""
    readable = {printable(b.path.name) for b in made.values() if b.readable}
    return readable, {printable(b.path.name) for b in made.values() if not b.readable}


@pytest.mark.parametrize("key", KEYS)
def test_the_loader_reads_or_refuses_each_file_clearly(bad: dict[str, BadImage], key: str) -> None:
    item = bad[key]
    if key == "vanished":
        remove_vanished(bad)
    if item.readable:
        image = load_image(item.path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert image.shape[:2] == item.shape
        return
    with pytest.raises(ImageLoadError) as caught:
        load_image(item.path)
    assert caught.value.path == str(item.path) and printable(item.path) in str(caught.value)
    assert caught.value.reason and "Traceback" not in caught.value.reason


def test_exif_orientation_is_applied_alike_by_the_loader_and_the_folder_source(bad: dict[str, BadImage]) -> None:
    rotated = bad["exif-rotated"].path
    folder = rotated.parent / "only-rotated"
    folder.mkdir()
    shutil.copy(rotated, folder / rotated.name)
    with FolderSource(folder) as source:
        frame = source.read()
    assert isinstance(frame, Frame)
    assert frame.image.shape == (64, 48, 3)
    assert np.array_equal(frame.image, load_image(rotated))


def test_the_decompression_bomb_is_refused_from_its_header_with_memory_bounded(bad: dict[str, BadImage]) -> None:
    process = psutil.Process()
    before = process.memory_info().rss
    for _ in range(20):
        with pytest.raises(ImageLoadError, match="image too large"):
            load_image(bad["decompression-bomb"].path)
    assert process.memory_info().rss - before < 50 * 2**20  # 900 MB if it were decoded


def test_the_folder_source_skips_each_bad_file_with_one_message_and_shows_the_rest(bad: dict[str, BadImage],
                                                                                   fault_table: Any) -> None:
    folder = next(iter(bad.values())).path.parent
    readable, refused = expected(bad)
    source = FolderSource(folder)
    source.open()
    remove_vanished(bad)  # listed by open(), gone before it is read
    frames, skipped = [], []
    for item in source:
        if isinstance(item, Frame):
            frames.append(printable(Path(item.path).name))
        else:
            assert isinstance(item, SourceStatus) and item.kind == "skipped"
            skipped.append(item.message)
    source.close()
    # The symlink loop is no file to a listing (is_file() is False for it), so it is never read, never skipped.
    refused_listed = refused - {"loop.png"}
    ok = sorted(frames) == sorted(readable) and sorted(m.split(":")[0] for m in skipped) == sorted(refused_listed)
    fault_table("bad image files through the folder source", len(bad), len(bad) if ok else 0, 0,
                f"{len(frames)} shown, {len(skipped)} skipped with a message, the loop never listed")
    assert sorted(frames) == sorted(readable)
    assert sorted(m.split(":")[0] for m in skipped) == sorted(refused_listed)
    assert len(skipped) == len(refused_listed)


def test_infer_prints_one_line_per_file_and_survives_a_strict_terminal(trained_home: Path, bad: dict[str, BadImage],
                                                                       fault_table: Any) -> None:
    """A real process with a terminal that refuses undecodable names (PYTHONIOENCODING strict), as on desktops."""
    folder = next(iter(bad.values())).path.parent
    remove_vanished(bad)
    if os.geteuid() == 0:  # root reads a chmod 000 file; the in-process tests cover its refusal
        bad["unreadable"].path.unlink()
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "inspector_app", "--data-dir", str(trained_home), "infer", "--json",
                           str(folder)], capture_output=True, text=True, env=env, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1  # some files failed
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    by_name = {Path(line["file"]).name: line for line in lines}
    readable, refused = expected({k: v for k, v in bad.items() if v.path.exists() or v.path.is_symlink()})
    ok = (set(by_name) == readable | refused and all("verdict" in by_name[name] for name in readable)
          and all(by_name[name]["error"] for name in refused))
    fault_table("bad image files through infer", len(by_name), len(by_name) if ok else 0, 0,
                f"{len(readable)} verdicts, {len(refused)} errors, exit code 1")
    assert set(by_name) == readable | refused
    assert all("verdict" in by_name[name] for name in readable)
    assert all(by_name[name]["error"] for name in refused)


def test_training_data_loading_skips_bad_files_and_keeps_the_rest(bad: dict[str, BadImage], tmp_path: Path,
                                                                  fault_table: Any) -> None:
    parts = tiny_parts_dataset(tmp_path / "parts", train_good=8)
    good = parts / "train" / "good"
    for item in bad.values():
        if item.path.is_symlink():
            os.symlink(good / item.path.name, good / item.path.name)  # a loop again, in its new folder
        elif item.path.exists():
            shutil.copy(item.path, good / item.path.name)
    copied = {key: BadImage(good / item.path.name, item.readable, item.shape) for key, item in bad.items()}
    refuse_unreadable(copied, pytest.MonkeyPatch())
    dataset = open_dataset(parts)
    samples = [s for s in dataset.training_samples() if s.label == "good"]
    remove_vanished(copied)  # listed, then gone
    warnings = dataset.check()
    assert any("unreadable file(s)" in w for w in warnings)
    assert typical_size(samples) is not None
    reported: list[tuple[str, str]] = []
    images, kept = load_images(samples, 32, on_error=lambda path, reason: reported.append((printable(path.name), reason)))
    readable, refused = expected(copied)
    ok = len(kept) == 8 + len(readable) and {name for name, _ in reported} == refused - {"loop.png"}
    fault_table("bad image files in a training dataset", len(bad), len(bad) if ok else 0, 0,
                f"{len(kept)} loaded, {len(reported)} skipped with a message")
    assert len(kept) == 8 + len(readable) and images.shape == (len(kept), 32, 32, 3)
    assert {name for name, _ in reported} == refused - {"loop.png"}  # a listing never offers the loop
    assert all(reason for _, reason in reported)


def test_a_training_run_with_the_bad_files_among_its_images_finishes(bad: dict[str, BadImage], tmp_path: Path,
                                                                    fault_table: Any) -> None:
    from fault_common import TINY, full_run  # noqa: PLC0415

    if not full_run():
        pytest.skip("a whole training run: only in the full fault suite (pytest -m faults)")
    from inspector_app.core.modelstore import ModelStore  # noqa: PLC0415
    from inspector_app.detectors.base import Progress  # noqa: PLC0415
    from inspector_app.jobs.training import run_training  # noqa: PLC0415
    from inspector_app.jobs.training_spec import TrainingSpec  # noqa: PLC0415

    parts = tiny_parts_dataset(tmp_path / "parts")
    remove_vanished(bad)
    extra = [str(item.path) for item in bad.values()]
    extra.append(str(tmp_path / "vanished-before-training.png"))
    store = ModelStore(tmp_path / "home")
    ref = run_training(TrainingSpec("autoencoder", [str(parts)], "widget", dict(TINY), extra_good=extra), store,
                       Progress())
    skipped = store.meta(ref)["training_data"]["skipped"]
    readable, refused = expected(bad)
    assert len(skipped) == len(refused) + 1
    fault_table("bad image files among a training run's images", len(extra), len(extra), 0,
                f"{len(skipped)} skipped with a message, the run saved {ref}")


def test_the_review_store_keeps_frames_from_every_file_name(bad: dict[str, BadImage], tmp_path: Path,
                                                           fault_table: Any) -> None:
    """Captures named after the files (a folder source's frames): odd names included, then queried and exported."""
    store = CaptureStore(tmp_path / "home", pass_sample_rate=1.0)
    for i, item in enumerate(bad.values()):
        image = load_image(item.path) if item.readable else np.zeros((8, 8, 3), np.uint8)
        store.record(image, source=str(item.path), frame_index=i, model_name="m", model_version="v1", score=0.5,
                     normalised_score=2.0, threshold=0.25, failed=True, anomaly_map=np.zeros(image.shape[:2], np.float32))
    records = store.query(order="oldest")
    assert len(records) == len(bad)
    store.decide(records[-1].id, "defect", note="odd name")
    assert store.export_csv(tmp_path / "out.csv") == len(bad)
    assert store.export_json(tmp_path / "out.json") == len(bad)
    assert printable(bad["non-utf8-name"].path) in {r.source for r in records}
    store.close()
    fault_table("bad image files into the review store", len(bad), len(records), 0, "recorded, decided, exported")
