"""The defects a hostile try-out found (issue 22, items 1-7): each test failed on the code before its fix."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from inspector_app.cli import main
from inspector_app.core.captures import CaptureStore, CaptureStoreError
from inspector_app.core.datasets import Sample, load_images
from inspector_app.core.errors import ImageLoadError, ModelStoreError
from inspector_app.core.images import load_image, save_image
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.jobs import training

META = {"family": "autoencoder", "config": {"image_size": 32}, "calibration": {"threshold": 1.0}}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- 1. a store opening while another process saves ---------------------------------------------------------------


def test_a_store_opened_by_another_process_during_a_save_keeps_the_folder_being_written(tmp_path: Path) -> None:
    """Another start of the app (here a real second process) while this one saves must not delete its folder."""
    store = ModelStore(tmp_path)
    opener = f"from inspector_app.core.modelstore import ModelStore; ModelStore({str(tmp_path)!r})"

    def write(folder: Path) -> None:
        (folder / "error_mean.npy").write_bytes(b"part one")
        subprocess.run([sys.executable, "-c", opener], check=True, timeout=60)
        (folder / "error_std.npy").write_bytes(b"part two")  # the folder must still be there

    ref = store.write_version("widget", META, write)
    assert (store.folder(ref) / "error_mean.npy").read_bytes() == b"part one"


def test_a_folder_whose_writer_has_exited_is_removed_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
    dead_pid = int(finished.stdout)
    model_dir = store.models_dir / "widget"
    model_dir.mkdir()
    orphan = model_dir / f".tmp-{dead_pid}-{int(time.time() * 1000)}-abc123"
    live = model_dir / f".tmp-{os.getpid()}-{int(psutil.Process().create_time() * 1000)}-def456"
    orphan.mkdir()
    live.mkdir()
    ModelStore(tmp_path)
    assert not orphan.exists() and live.exists()


# -- 2. OS errors on a file ------------------------------------------------------------------------------------------


def make_symlink_loop(folder: Path, name: str = "loop.png") -> Path:
    path = folder / name
    os.symlink(path, path)
    return path


def test_a_symlink_loop_is_the_loaders_own_error(tmp_path: Path) -> None:
    loop = make_symlink_loop(tmp_path)
    with pytest.raises(ImageLoadError) as caught:
        load_image(loop)
    assert "symbolic links" in caught.value.reason and caught.value.path == str(loop)


def test_infer_reports_a_symlink_loop_and_scores_the_rest(capsys: pytest.CaptureFixture[str], home: Path,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    save_image(folder / "a.png", np.full((32, 32, 3), 90, np.uint8))
    make_symlink_loop(folder)
    code, out, _ = run_cli(capsys, "--data-dir", str(home), "infer", str(folder))
    assert code == 1  # one file failed
    assert "loop.png\tERROR\ttoo many levels of symbolic links" in out
    assert "a.png\tPASS" in out or "a.png\tFAIL" in out


def test_extra_good_images_with_a_symlink_loop_are_skipped_not_fatal(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    save_image(good, np.full((40, 40, 3), 90, np.uint8))
    loop = make_symlink_loop(tmp_path)
    skipped: list[tuple[Path, str]] = []
    images, kept = load_images([Sample(loop, "good", "good", "train"), Sample(good, "good", "good", "train")], 32,
                               on_error=lambda path, reason: skipped.append((path, reason)))
    assert images.shape == (1, 32, 32, 3) and [s.path for s in kept] == [good]
    assert skipped == [(loop, "too many levels of symbolic links")]


# -- 3. malformed meta.json and model files --------------------------------------------------------------------------


def break_meta(folder: Path, change: Any) -> None:
    path = folder / "meta.json"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps(change(meta)))


def _set(meta: dict, *keys_and_value: Any) -> dict:
    *keys, last, value = keys_and_value
    target = meta
    for key in keys:
        target = target[key]
    target[last] = value
    return meta


BROKEN_META = {
    "a list": lambda meta: [1],
    "empty calibration": lambda meta: _set(meta, "calibration", {}),
    "threshold abc": lambda meta: _set(meta, "calibration", "threshold", "abc"),
    "image_size abc": lambda meta: _set(meta, "config", "image_size", "abc"),
}


@pytest.mark.parametrize("damage", list(BROKEN_META))
def test_a_broken_meta_is_listed_as_broken_and_the_other_versions_still_work(
        capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path, damage: str) -> None:
    models = home / "models" / "widget"
    shutil.copytree(models / "v1", models / "v2")
    break_meta(models / "v2", BROKEN_META[damage])
    code, out, err = run_cli(capsys, "--data-dir", str(home), "models")
    assert code == 0 and "Traceback" not in err
    assert "widget@v1" in out and "widget@v2" in out and "broken" in out
    image = tmp_path / "part.png"
    save_image(image, np.full((32, 32, 3), 90, np.uint8))
    code, out, err = run_cli(capsys, "--data-dir", str(home), "infer", "--model", "widget@v2", str(image))
    assert code == 1 and err.startswith("error: model widget@v2 is broken")
    code, out, _ = run_cli(capsys, "--data-dir", str(home), "infer", "--model", "widget@v1", str(image))
    assert code == 0 and "part.png\t" in out


def test_a_wrong_shape_array_is_refused_at_load(capsys: pytest.CaptureFixture[str], home: Path, parts: Path) -> None:
    np.save(home / "models" / "widget" / "v1" / "error_mean.npy", np.zeros((7, 5), np.float32))
    code, _, err = run_cli(capsys, "--data-dir", str(home), "evaluate", "--data", str(parts))
    assert code == 1 and "error_mean.npy has shape 7×5, expected 32×32" in err


def test_a_corrupt_keras_file_is_called_corrupt(capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path) -> None:
    (home / "models" / "widget" / "v1" / "model.keras").write_bytes(b"this is no zip archive")
    image = tmp_path / "part.png"
    save_image(image, np.full((32, 32, 3), 90, np.uint8))
    code, _, err = run_cli(capsys, "--data-dir", str(home), "infer", str(image))
    assert code == 1 and "model.keras is corrupt" in err and "not found" not in err


# -- 4. activation checks that the version loads ---------------------------------------------------------------------


def test_models_activate_refuses_a_version_that_cannot_load(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    models = home / "models" / "widget"
    shutil.copytree(models / "v1", models / "v2")
    (models / "v2" / "model.keras").unlink()
    code, out, err = run_cli(capsys, "--data-dir", str(home), "models", "--activate", "widget@v2")
    assert code == 1 and "model.keras is missing" in err and "active model" not in out
    assert ModelStore(home).active() == ModelRef("widget", "v1")
    code, out, _ = run_cli(capsys, "--data-dir", str(home), "models", "--activate", "widget@v1")
    assert code == 0 and "active model: widget@v1" in out


def test_the_window_activates_a_rolled_back_version_only_once_it_has_loaded(qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings  # noqa: PLC0415

    from helpers import BrightFailsModel  # noqa: PLC0415
    from inspector_app.gui.main_window import MainWindow  # noqa: PLC0415

    store = ModelStore(tmp_path / "home")
    calibration = {"threshold": 1.0, "score_low": 0.0, "map_low": 0.0, "method": "test"}
    for _ in range(3):
        store.write_version("line", {"family": "autoencoder", "config": {}, "calibration": calibration},
                            lambda folder: None)
    store.activate(ModelRef("line", "v1"))

    def loader(_store: ModelStore, ref: ModelRef) -> Any:
        if ref.version == "v3":
            raise ModelStoreError(f"model {ref}: model.keras is missing")
        return BrightFailsModel(ref)

    win = MainWindow(store, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat), loader=loader)
    qtbot.addWidget(win)
    try:
        with qtbot.waitSignal(win.worker.model_failed, timeout=10000):
            win.roll_back(ModelRef("line", "v3"))
        qtbot.wait(50)
        assert store.active() == ModelRef("line", "v1")
        with qtbot.waitSignal(win.worker.model_loaded, timeout=10000):
            win.roll_back(ModelRef("line", "v2"))
        qtbot.waitUntil(lambda: store.active() == ModelRef("line", "v2"), timeout=5000)
    finally:
        win.shutdown()


# -- 5 and 6. wrong input and bad settings are refused before any data is loaded ------------------------------------


@pytest.fixture
def no_data_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if training gets as far as loading images."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("training loaded data before refusing the input")

    monkeypatch.setattr(training, "load_training_data", refuse)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--name", "a/b"], "invalid model name 'a/b'"),
        (["--version", "../x"], "invalid version name '../x'"),
        (["--name", "widget", "--version", "v1"], "already has a version 'v1'"),
        (["--epochs", "0"], "epochs must be a whole number of at least 1, got 0"),
        (["--epochs", "-3"], "epochs must be a whole number of at least 1, got -3"),
        (["--set", "batch_size=-1"], "batch_size must be a whole number of at least 1, got -1"),
        (["--val-fraction", "0"], "val_fraction must be between 0 and 1 (exclusive), got 0.0"),
        (["--val-fraction", "1"], "val_fraction must be between 0 and 1"),
    ],
    ids=["name", "version", "existing-version", "epochs-0", "epochs-negative", "batch-size", "val-0", "val-1"],
)
def test_bad_training_input_is_refused_before_loading_data(
        capsys: pytest.CaptureFixture[str], home: Path, parts: Path, no_data_loading: None,  # noqa: ARG001
        options: list[str], message: str) -> None:
    code, _, err = run_cli(capsys, "--data-dir", str(home), "train", "--data", str(parts), *options)
    assert code == 1 and message in err and "Traceback" not in err
    assert ModelStore(home).versions("widget") == ["v1"]


def test_a_spec_holding_a_list_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text("[1, 2]")
    code, _, err = run_cli(capsys, "--data-dir", str(tmp_path / "home"), "train", "--spec", str(spec))
    assert code == 1 and "a training spec is a JSON object of settings, not a list" in err


# -- 7. tracebacks on user mistakes -----------------------------------------------------------------------------------


def test_save_overlays_into_a_file_is_a_clear_error(capsys: pytest.CaptureFixture[str], home: Path,
                                                     tmp_path: Path) -> None:
    image, target = tmp_path / "part.png", tmp_path / "overlays.txt"
    save_image(image, np.full((32, 32, 3), 90, np.uint8))
    target.write_text("not a folder")
    code, _, err = run_cli(capsys, "--data-dir", str(home), "infer", "--save-overlays", str(target), str(image))
    assert code == 1 and err.startswith(f"error: --save-overlays {target}: cannot make that folder")


def test_a_data_dir_that_is_a_file_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("x")
    code, _, err = run_cli(capsys, "--data-dir", str(not_a_folder), "models")
    assert code == 1 and err.startswith(f"error: cannot use {not_a_folder} as the data folder")


def test_infer_on_an_empty_folder_says_so(capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = run_cli(capsys, "--data-dir", str(home), "infer", str(empty))
    assert code == 1 and out == "" and f"no images found in {empty}" in err


def test_evaluate_skips_a_zero_byte_mask_with_a_message(capsys: pytest.CaptureFixture[str], home: Path,
                                                        parts: Path, tmp_path: Path) -> None:
    data = tmp_path / "parts"
    shutil.copytree(parts, data)
    mask = next((data / "ground_truth").rglob("*.png"))
    mask.write_bytes(b"")
    code, out, _ = run_cli(capsys, "--data-dir", str(home), "evaluate", "--data", str(data))
    assert code == 0 and "image AUROC" in out
    assert f"skipped 1 unreadable file(s): cannot read image {mask}: empty file (0 bytes)" in out


def test_a_capture_on_a_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from inspector_app.core.captures import files  # noqa: PLC0415

    store = CaptureStore(tmp_path)

    def disk_full(path: Path, _image: np.ndarray) -> None:
        Path(path).write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(files, "save_image", disk_full)
    with pytest.raises(CaptureStoreError, match="cannot store the capture in .*: No space left on device"):
        store.record(np.zeros((8, 8, 3), np.uint8), source="cam", frame_index=1, model_name="m", model_version="v1",
                     score=1.0, normalised_score=2.0, threshold=0.5, failed=True)
    assert store.counts()["total"] == 0
    assert not any(p.is_file() for p in (tmp_path / "captures").rglob("*.png"))


def test_a_locked_capture_database_fails_fast_and_the_recorder_stores_it_later(qtbot: Any, tmp_path: Path) -> None:  # noqa: ARG001
    """Another program holding the write lock costs a capture a quarter of a second, not ten; the frame is kept
    and stored with the next one once the lock is gone."""
    from inspector_app.core.captures import CaptureStoreBusy  # noqa: PLC0415
    from inspector_app.core.calibration import MapKind  # noqa: PLC0415
    from inspector_app.core.sources import Frame  # noqa: PLC0415
    from inspector_app.gui.inference_worker import InspectionResult  # noqa: PLC0415
    from inspector_app.gui.inspection.capture_recorder import CaptureRecorder  # noqa: PLC0415

    store = CaptureStore(tmp_path, pass_sample_rate=1.0)
    recorder = CaptureRecorder(store)

    def result(index: int) -> InspectionResult:
        frame = Frame(np.full((8, 8, 3), index, np.uint8), "cam", index, time.time())
        return InspectionResult(frame, 0, "m@v1", "m", "v1", 1.0, 2.0, 0.5, True, np.zeros((8, 8), np.float32),
                                MapKind.ANOMALY, 5.0, time.time())

    other = sqlite3.connect(store.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(CaptureStoreBusy, match="locked by another program"):
        store.record(np.zeros((8, 8, 3), np.uint8), source="cam", frame_index=0, model_name="m", model_version="v1",
                     score=1.0, normalised_score=2.0, threshold=0.5, failed=True)
    assert time.monotonic() - started < 2.0
    assert recorder.record_result(result(1)) is None  # kept for later, not raised into the worker
    other.execute("COMMIT")
    other.close()
    assert recorder.record_result(result(2)) is not None
    assert [r.frame_index for r in store.query(order="oldest")] == [1, 2]
    recorder.shutdown()
    store.close()


def test_the_reader_thread_reports_a_failing_read_and_goes_on(qtbot: Any) -> None:
    """A source whose read raises (a bug, an OS error nobody foresaw) shows as a status in the window; the
    stream goes on instead of the reader thread dying silently."""
    from inspector_app.core.mailbox import LatestMailbox  # noqa: PLC0415
    from inspector_app.core.sources import FrameSource, SourceStatus  # noqa: PLC0415
    from inspector_app.gui.inspection.source_reader import SourceReader  # noqa: PLC0415

    class Flaky(FrameSource):
        def __init__(self) -> None:
            super().__init__("flaky")
            self.reads = 0

        def _open(self) -> None:
            pass

        def _read(self) -> Any:
            self.reads += 1
            if self.reads == 2:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), "part.png")
            if self.reads > 4:
                return SourceStatus("end", "done")
            return self._frame(np.zeros((4, 4, 3), np.uint8))

    mailbox: LatestMailbox = LatestMailbox()
    reader = SourceReader(Flaky(), mailbox, 0, wait_for_worker=True)
    statuses: list[tuple[str, str]] = []
    reader.status.connect(lambda kind, message: statuses.append((kind, message)))
    reader.start()
    taken = [mailbox.take(timeout=5) for _ in range(3)]
    assert reader.wait(5000)
    qtbot.waitUntil(lambda: len(statuses) == 2, timeout=5000)
    assert all(item is not None for item in taken)
    assert statuses[0] == ("skipped", "OSError: [Errno 40] Too many levels of symbolic links: 'part.png'")
    assert statuses[1][0] == "end"
