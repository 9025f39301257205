"""Faults, repeated and counted: a camera unplugged and plugged back, training killed at random moments, damaged
model folders, the review database killed mid-write, a full disk while recording.

Each test adds a row to the fault table (see conftest). The normal suite repeats each fault a few times;
``pytest -m faults`` runs the full counts (20 camera cycles, 20 training kills, 100 database kills).
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fault_common import fault_tries
from helpers import BrightFailsModel
from inspector_app.core.captures import CaptureStore
from inspector_app.core.errors import ModelStoreError
from inspector_app.core.images import save_image
from inspector_app.core.mailbox import LatestMailbox
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import CameraSource, Frame

pytestmark = [pytest.mark.faults,
              pytest.mark.skipif(sys.platform.startswith("win"), reason="kills processes with POSIX signals")]


# -- a camera that comes and goes --------------------------------------------------------------------------------


class Cable:
    """The fake camera's cable: plugged or not, shared by every capture the source opens."""

    def __init__(self) -> None:
        self.plugged = True


class FakeCamera:
    """A capture device: frames while the cable is plugged, nothing (as OpenCV does) once it is pulled."""

    def __init__(self, cable: Cable) -> None:
        self.cable = cable
        self.opened = cable.plugged

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(0.01)  # 100 frames per second at most
        if not self.cable.plugged:
            return False, None
        return True, np.full((24, 32, 3), 120, np.uint8)

    def release(self) -> None:
        self.opened = False


def test_camera_unplugged_and_plugged_back_recovers_within_2_s_each_time(qtbot: Any, fault_table: Any) -> None:
    """The window's reader thread reports SOURCE LOST when the cable is pulled and frames again within 2 s of it
    being plugged back, however long it was away (up to 3 s here)."""
    from inspector_app.gui.inspection.source_reader import SourceReader  # noqa: PLC0415

    tries = fault_tries(20)
    cable = Cable()
    mailbox: LatestMailbox = LatestMailbox()
    reader = SourceReader(CameraSource(0, opener=lambda _device: FakeCamera(cable)), mailbox, 0, False)
    statuses: list[tuple[str, float]] = []
    reader.status.connect(lambda kind, _message: statuses.append((kind, time.monotonic())))
    rng = random.Random(22)
    recoveries: list[float] = []
    reader.start()
    try:
        assert mailbox.take(timeout=5) is not None  # streaming
        for _ in range(tries):
            cable.plugged = False
            qtbot.waitUntil(lambda: bool(statuses) and statuses[-1][0] == "lost", timeout=3000)
            time.sleep(rng.uniform(0.1, 3.0))
            plugged_at = time.monotonic()
            cable.plugged = True
            qtbot.waitUntil(lambda: statuses[-1][0] == "recovered", timeout=5000)
            recoveries.append(statuses[-1][1] - plugged_at)
            mailbox.take(timeout=0.1)
            assert mailbox.take(timeout=2) is not None  # frames flow again
    finally:
        reader.stop()
        reader.wait(5000)
    survived = sum(1 for seconds in recoveries if seconds <= 2.0)
    fault_table("camera disconnect/reconnect (SOURCE LOST, back <= 2 s)", tries, survived, 0,
                f"slowest recovery {max(recoveries):.2f} s")
    assert survived == tries, recoveries


# -- training killed at random moments ------------------------------------------------------------------------------


def _fixed_images() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)


def _answers(home: Path) -> np.ndarray:
    from inspector_app.detectors.loaded_model import LoadedModel  # noqa: PLC0415

    store = ModelStore(home)
    model = LoadedModel.load(store, store.active())
    out = model.inspect(_fixed_images())
    return np.concatenate([out.scores, out.maps.ravel()])


def _complete(folder: Path) -> bool:
    """Every file a saved autoencoder version needs, whole: no half version."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        np.load(folder / "error_mean.npy", allow_pickle=False)
        np.load(folder / "error_std.npy", allow_pickle=False)
        with zipfile.ZipFile(folder / "model.keras") as archive:
            return archive.testzip() is None and meta["family"] == "autoencoder"
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return False


#: Progress stages of a training run, taken in turn (the save first: the quick run's one try lands there), so
#: 20 tries kill at every stage at least three times, each after a random fraction of a second.
STAGES = ("save", "train", "calibrate", "load", "data", "device")


def test_training_killed_at_random_moments_leaves_no_half_version(home: Path, parts: Path, fault_table: Any) -> None:
    """kill -9 or SIGTERM after a random progress event (loading, each epoch, calibrating, saving) and a random
    fraction of a second: every version on disk is complete, no temporary folder outlives the store's next
    opening, and the active model's answers are bit-identical."""
    tries = fault_tries(20, quick=1)
    before = _answers(home)
    active = ModelStore(home).active()
    rng = random.Random(2222)
    survived, moments = 0, []
    for attempt in range(tries):
        cmd = [sys.executable, "-m", "inspector_app", "--data-dir", str(home), "train", "--data", str(parts),
               "--name", "widget", "--json-progress", "--set", "image_size=32", "--set", "base_filters=8",
               "--set", "bottleneck=16", "--epochs", "3"]
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert child.stdout is not None
        wanted = STAGES[attempt % len(STAGES)]
        stage = "?"
        for line in child.stdout:
            event = json.loads(line)
            stage = event.get("stage") or event.get("event", "?")
            if stage == wanted or stage in ("done", "error"):
                break
        time.sleep(rng.uniform(0.0, 0.5))
        how = signal.SIGKILL if attempt % 2 == 0 else signal.SIGTERM
        child.send_signal(how)
        child.wait(timeout=120)
        child.stdout.close()
        moments.append(f"{how.name}@{stage}")
        store = ModelStore(home)  # removes the dead child's temporary folder
        folders = [p for p in (home / "models" / "widget").iterdir()]
        ok = all(_complete(p) for p in folders if not p.name.startswith("."))
        ok = ok and not any(p.name.startswith(".tmp-") for p in folders) and store.active() == active
        survived += ok
    after = _answers(home)
    identical = bool(np.array_equal(before, after))
    fault_table("training child killed at random moments", tries, survived if identical else 0, 0,
                f"active model answers identical: {identical}; {', '.join(sorted(set(moments)))}")
    assert survived == tries and identical


# -- damaged model folders ------------------------------------------------------------------------------------------


def _damage_missing_file(folder: Path) -> None:
    (folder / "error_std.npy").unlink()


def _damage_schema(folder: Path) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "schema": 99}))


def _damage_weights(folder: Path) -> None:
    data = bytearray((folder / "model.keras").read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 200):
        data[i] ^= 0xFF
    (folder / "model.keras").write_bytes(bytes(data))


def _damage_outside_name(folder: Path) -> None:
    secret = folder.parents[3] / "secret.npy"
    np.save(secret, np.zeros((32, 32), np.float32))
    meta = json.loads((folder / "meta.json").read_text())
    meta["files"] = {"error_mean": "../../../../secret.npy", "model": str(secret)}
    (folder / "meta.json").write_text(json.dumps(meta))


DAMAGE = {"missing file": _damage_missing_file, "wrong schema version": _damage_schema,
          "corrupted weights": _damage_weights, "file name pointing outside": _damage_outside_name}


class OpenedFiles:
    """Every file the interpreter opens (an audit hook: hooks cannot be removed, so this one can be switched off)."""

    hooked = False
    paths: list[str] | None = None

    @classmethod
    def start(cls) -> None:
        if not cls.hooked:
            sys.addaudithook(cls._hook)
            cls.hooked = True
        cls.paths = []

    @classmethod
    def stop(cls) -> list[str]:
        found, cls.paths = cls.paths or [], None
        return found

    @classmethod
    def _hook(cls, event: str, args: tuple) -> None:
        if cls.paths is not None and event == "open" and isinstance(args[0], str | bytes | os.PathLike):
            cls.paths.append(os.fsdecode(args[0]))


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_model_folder_gives_a_clear_message_and_the_app_stays_usable(
        home: Path, damage: str, fault_table: Any) -> None:
    from inspector_app.detectors.loaded_model import LoadedModel  # noqa: PLC0415

    models = home / "models" / "widget"
    import shutil  # noqa: PLC0415

    shutil.copytree(models / "v1", models / "v2")
    DAMAGE[damage](models / "v2")
    store = ModelStore(home)
    OpenedFiles.start()
    try:
        try:
            LoadedModel.load(store, ModelRef("widget", "v2"))
            outcome = "loaded"
        except ModelStoreError as exc:
            outcome = str(exc)
    finally:
        opened = OpenedFiles.stop()
    inside_home = [p for p in opened if Path(p).resolve().is_relative_to(home.resolve())]
    outside = [p for p in inside_home if not Path(p).resolve().is_relative_to((models / "v2").resolve())
               and not p.endswith("active_model.json")]
    # The file-name fault loads fine (names in meta.json are never used); every other fault is refused clearly.
    clear = outcome == "loaded" if damage == "file name pointing outside" else outcome.startswith("model widget@v2")
    usable = LoadedModel.load(store, ModelRef("widget", "v1")).inspect(_fixed_images()).scores.shape == (4,)
    ok = clear and not outside and usable
    fault_table(f"model folder: {damage}", 1, int(ok), 0,
                "nothing read outside; " + outcome.replace(str(models / "v2") + "/", "")[:70])
    assert ok, (outcome, outside)


# -- the review database killed mid-write ---------------------------------------------------------------------------

_DECIDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from inspector_app.core.captures import CaptureStore

    store = CaptureStore(Path(sys.argv[1]), pass_sample_rate=1.0)
    start = int(sys.argv[2])
    image = np.zeros((16, 16, 3), np.uint8)
    for i in range(start, start + 10000):
        record = store.record(image, source="cam", frame_index=i, model_name="m", model_version="v1", score=1.0,
                              normalised_score=2.0, threshold=0.5, failed=True)
        store.decide(record.id, ("defect", "false_alarm", "good")[i % 3], f"note {i}")
        print(record.id, ("defect", "false_alarm", "good")[i % 3], flush=True)  # after both commits
    """
)


def test_review_database_killed_mid_write_keeps_every_committed_decision(tmp_path: Path, fault_table: Any) -> None:
    tries = fault_tries(100)
    rng = random.Random(100)
    committed: dict[int, str] = {}
    survived = 0
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for attempt in range(tries):
        child = subprocess.Popen([sys.executable, "-c", _DECIDER, str(tmp_path), str(attempt * 10000)],
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout is not None
        wanted = rng.randint(1, 8)
        for line in child.stdout:
            record_id, decision = line.split()
            committed[int(record_id)] = decision
            wanted -= 1
            if wanted == 0:
                break
        time.sleep(rng.uniform(0.0, 0.05))  # land anywhere in the next record or decision
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        conn = sqlite3.connect(tmp_path / "captures" / "captures.db")
        try:
            intact = conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            conn.close()
        with CaptureStore(tmp_path) as store:
            kept = all(store.get(record_id).decision == decision for record_id, decision in committed.items())
        survived += intact and kept
    with CaptureStore(tmp_path) as store:
        lost = sum(1 for record_id, decision in committed.items() if store.get(record_id).decision != decision)
    fault_table("review database killed mid-write (SIGKILL)", tries, survived, lost,
                f"{len(committed)} committed decisions checked")
    assert survived == tries and lost == 0


# -- the disk full while recording ----------------------------------------------------------------------------------


def test_disk_full_while_saving_captures_reports_and_the_stream_goes_on(qtbot: Any, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       fault_table: Any) -> None:
    """The worker inspects 60 frames; the disk is "full" for frames 20-39. Those frames get a message each and are
    not recorded; every frame is still inspected and shown, and recording resumes once space is back."""
    from inspector_app.core.captures import files  # noqa: PLC0415
    from inspector_app.gui.inference_worker import InferenceWorker  # noqa: PLC0415
    from inspector_app.gui.inspection.capture_recorder import CaptureRecorder  # noqa: PLC0415

    captures = CaptureStore(tmp_path / "home", pass_sample_rate=1.0)
    full = threading.Event()
    real_save = files.save_image

    def save_or_fail(path: Path, image: np.ndarray) -> None:
        if full.is_set():
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_save(path, image)

    monkeypatch.setattr(files, "save_image", save_or_fail)
    worker = InferenceWorker(ModelStore(tmp_path / "home"), loader=lambda _s, ref: BrightFailsModel(ref))
    recorder = CaptureRecorder(captures)
    recorder.attach(worker)
    results: list[Any] = []
    errors: list[str] = []
    worker.results.connect(results.extend)
    worker.error.connect(errors.append)
    worker.request_model(ModelRef("fake", "v1"))
    worker.start()
    try:
        qtbot.waitUntil(lambda: worker.model is not None, timeout=5000)
        for index in range(60):
            if index == 20:
                qtbot.waitUntil(lambda: captures.counts()["total"] == 20, timeout=10000)
                full.set()
            if index == 40:
                qtbot.waitUntil(lambda: len(errors) == 20, timeout=10000)
                full.clear()
            frame = Frame(np.full((16, 16, 3), 200, np.uint8), "camera:0", index, time.time())
            worker.mailbox.put((0, frame), block=True, timeout=5)
        qtbot.waitUntil(lambda: len(results) == 60 and captures.counts()["total"] == 40, timeout=10000)
    finally:
        worker.stop()
        worker.wait(5000)
        recorder.shutdown()
    stored = sorted(r.frame_index for r in captures.query(order="oldest"))
    captures.close()
    ok = (stored == list(range(20)) + list(range(40, 60)) and len(errors) == 20
          and all("No space left on device" in e for e in errors))
    fault_table("disk full while saving captures", 20, 20 if ok else 0, 0,
                "stream went on; 20 frames reported as not recorded, recording resumed")
    assert ok, (stored, errors[:3])
