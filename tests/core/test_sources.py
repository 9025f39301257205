"""Frame sources: folders (order, skips, loop, watch, stop, pacing), video files, flaky cameras, synthetic parts."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from inspector_app.core.errors import SourceError
from inspector_app.core.sources import (
    CameraSource,
    FolderSource,
    Frame,
    FrameSource,
    SourceStatus,
    SyntheticSource,
    VideoFileSource,
    open_source,
)


def _write(path: Path, value: int, size: tuple[int, int] = (16, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (value, 0, 0)).save(path, format="PNG")
    return path


def _folder(root: Path, values: list[int]) -> Path:
    for i, v in enumerate(values):
        _write(root / f"img{i}.png", v)
    return root


def _frames(items: list[Frame | SourceStatus]) -> list[Frame]:
    return [i for i in items if isinstance(i, Frame)]


def _read_in_thread(source: FrameSource) -> tuple[threading.Thread, list[Frame | SourceStatus]]:
    results: list[Frame | SourceStatus] = []

    def body() -> None:
        for item in source:
            results.append(item)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, results


# -- folders ------------------------------------------------------------------------------------------------


def test_folder_natural_order_frames_and_end(tmp_path: Path) -> None:
    for name, value in [("b10.png", 3), ("b2.png", 2), ("a.png", 1)]:
        _write(tmp_path / name, value)
    (tmp_path / "notes.txt").write_text("not an image")
    with FolderSource(tmp_path) as source:
        items = list(source)
        assert isinstance(source.read(), SourceStatus)
    frames = _frames(items)
    assert [Path(f.path or "").name for f in frames] == ["a.png", "b2.png", "b10.png"]
    assert [f.index for f in frames] == [0, 1, 2]
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 3]
    assert all(f.image.dtype == np.uint8 and f.image.shape == (12, 16, 3) for f in frames)
    assert {f.source_id for f in frames} == {f"folder:{tmp_path}"}


def test_folder_skips_a_corrupt_file_with_a_status_naming_it(tmp_path: Path) -> None:
    _folder(tmp_path, [10, 20, 30])
    (tmp_path / "img1.png").write_bytes(b"garbage")
    with FolderSource(tmp_path) as source:
        items = list(source)
    assert [type(i).__name__ for i in items] == ["Frame", "SourceStatus", "Frame"]
    status = items[1]
    assert isinstance(status, SourceStatus) and status.kind == "skipped" and status.message.startswith("img1.png: ")
    assert [f.index for f in _frames(items)] == [0, 1]


def test_folder_loop_restarts(tmp_path: Path) -> None:
    _folder(tmp_path, [1, 2])
    with FolderSource(tmp_path, loop=True) as source:
        frames = [source.read() for _ in range(5)]
    assert [int(f.image[0, 0, 0]) for f in frames if isinstance(f, Frame)] == [1, 2, 1, 2, 1]
    assert [f.index for f in frames if isinstance(f, Frame)] == [0, 1, 2, 3, 4]


def test_folder_loop_of_unreadable_files_ends_instead_of_spinning(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    with FolderSource(tmp_path, loop=True) as source:
        items = [source.read() for _ in range(2)]
    assert [(i.kind) for i in items if isinstance(i, SourceStatus)] == ["skipped", "end"]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: None, "does not exist"),
        (lambda p: p.mkdir(), "has no images"),
        (lambda p: p.write_text("x"), "is not a folder"),
    ],
    ids=["missing", "empty", "file"],
)
def test_folder_open_errors(tmp_path: Path, make: Any, expected: str) -> None:
    folder = tmp_path / "imgs"
    make(folder)
    with pytest.raises(SourceError, match=expected) as info:
        FolderSource(folder).open()
    assert str(folder) in str(info.value)


def test_folder_watch_picks_up_a_file_added_later(tmp_path: Path) -> None:
    _folder(tmp_path, [1])
    source = FolderSource(tmp_path, watch=True, poll_interval=0.02)
    source.open()
    assert isinstance(first := source.read(), Frame) and first.index == 0

    def add_later() -> None:
        time.sleep(0.1)
        _write(tmp_path / "tmp.part", 77).rename(tmp_path / "img5.png")

    threading.Thread(target=add_later, daemon=True).start()
    guard = threading.Timer(5.0, source.stop)  # a failure must not hang the test run
    guard.start()
    started = time.monotonic()
    item = source.read()
    guard.cancel()
    assert isinstance(item, Frame) and item.path == str(tmp_path / "img5.png") and int(item.image[0, 0, 0]) == 77
    assert time.monotonic() - started < 3
    source.close()


def test_stop_ends_a_blocking_watch_quickly(tmp_path: Path) -> None:
    source = FolderSource(tmp_path, watch=True, poll_interval=5.0)  # an empty folder is fine when watching
    source.open()
    thread, results = _read_in_thread(source)
    time.sleep(0.1)
    assert thread.is_alive() and results == []
    stopped_at = time.monotonic()
    source.stop()
    thread.join(timeout=2)
    assert not thread.is_alive() and time.monotonic() - stopped_at < 0.5
    assert source.read().kind == "end"  # type: ignore[union-attr]
    source.close()
    source.close()  # idempotent


def test_folder_fps_pacing_roughly_respected(tmp_path: Path) -> None:
    _folder(tmp_path, [1] * 6)
    started = time.monotonic()
    with FolderSource(tmp_path, fps=25) as source:
        frames = _frames(list(source))
    elapsed = time.monotonic() - started
    assert len(frames) == 6
    assert 0.15 < elapsed < 2.0  # five gaps of 40 ms; coarse bounds only


def test_stop_interrupts_slow_pacing(tmp_path: Path) -> None:
    _folder(tmp_path, [1, 2])
    source = FolderSource(tmp_path, fps=0.2)  # 5 s between frames
    source.open()
    assert isinstance(source.read(), Frame)
    threading.Timer(0.05, source.stop).start()
    started = time.monotonic()
    assert source.read().kind == "end"  # type: ignore[union-attr]
    assert time.monotonic() - started < 0.5
    source.close()


def test_bad_fps_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="got -1"):
        FolderSource(tmp_path, fps=-1)


# -- video files --------------------------------------------------------------------------------------------


def _video(path: Path, colours: list[tuple[int, int, int]], size: tuple[int, int] = (32, 24)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened()
    for rgb in colours:
        frame = np.zeros((size[1], size[0], 3), np.uint8)
        frame[:] = rgb[::-1]  # OpenCV writes BGR
        writer.write(frame)
    writer.release()
    return path


def test_video_frames_come_back_as_rgb(tmp_path: Path) -> None:
    path = _video(tmp_path / "clip.avi", [(255, 0, 0), (0, 0, 255), (0, 255, 0)])
    with VideoFileSource(path) as source:
        frames = _frames(list(source))
    assert len(frames) == 3 and frames[0].image.shape == (24, 32, 3)
    dominant = [int(np.argmax(f.image.reshape(-1, 3).mean(axis=0))) for f in frames]
    assert dominant == [0, 2, 1]  # red, blue, green in RGB order
    red = frames[0].image.reshape(-1, 3).mean(axis=0)
    assert red[0] > 200 and red[1] < 40 and red[2] < 40
    assert frames[0].source_id == f"video:{path}"


def test_video_loop(tmp_path: Path) -> None:
    path = _video(tmp_path / "clip.avi", [(255, 0, 0), (0, 255, 0)])
    with VideoFileSource(path, loop=True) as source:
        frames = [source.read() for _ in range(5)]
    assert all(isinstance(f, Frame) for f in frames)
    assert [f.index for f in frames if isinstance(f, Frame)] == [0, 1, 2, 3, 4]


def test_video_open_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        VideoFileSource(tmp_path / "none.mp4").open()
    (tmp_path / "fake.avi").write_bytes(b"this is no video")
    with pytest.raises(SourceError, match=r"fake\.avi"):
        VideoFileSource(tmp_path / "fake.avi").open()


# -- cameras ------------------------------------------------------------------------------------------------


class FakeCapture:
    """A capture that follows a plan: "ok" frames, "fail" grabs, or "absent" (does not open)."""

    def __init__(self, plan: list[str]) -> None:
        self.plan = list(plan)
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - cv2 API
        return bool(self.plan) and self.plan[0] != "absent"

    def read(self) -> tuple[bool, np.ndarray | None]:
        state = self.plan.pop(0) if self.plan else "fail"
        if state == "ok":
            frame = np.zeros((6, 8, 3), np.uint8)
            frame[..., 2] = 255  # pure red in BGR
            return True, frame
        return False, None

    def release(self) -> None:
        self.released = True


class FakeOpener:
    def __init__(self, plans: list[list[str]]) -> None:
        self.plans = list(plans)
        self.opened: list[FakeCapture] = []

    def __call__(self, device: int | str) -> FakeCapture:
        capture = FakeCapture(self.plans.pop(0) if self.plans else ["absent"])
        self.opened.append(capture)
        return capture


def test_camera_loses_then_recovers() -> None:
    opener = FakeOpener([["ok"] * 3 + ["fail"], ["absent"], ["ok", "fail", "ok"], ["ok"] * 10])
    delays: list[float] = []
    camera = CameraSource("0", opener=opener, backoff=(0.5, 8.0), wait=lambda s: delays.append(s) or False)
    with camera:
        items = [camera.read() for _ in range(9)]
    kinds = [i.kind if isinstance(i, SourceStatus) else "frame" for i in items]
    assert kinds == ["frame"] * 3 + ["lost", "recovered", "frame", "lost", "recovered", "frame"]
    frames = _frames(items)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].image[0, 0].tolist() == [255, 0, 0] and frames[0].source_id == "camera:0"
    assert delays == [0.5, 1.0, 0.5]  # absent once (0.5), back on the second try (1.0); reset after recovery
    assert all(c.released for c in opener.opened[:-1])


def test_camera_backoff_grows_to_the_cap_and_open_does_not_raise() -> None:
    delays: list[float] = []
    opener = FakeOpener([["absent"]] * 6 + [["ok"] * 5])
    camera = CameraSource(2, opener=opener, wait=lambda s: delays.append(s) or False)
    camera.open()  # absent camera: reported as lost, never raised
    lost = camera.read()
    assert isinstance(lost, SourceStatus) and lost.kind == "lost" and "camera 2" in lost.message
    assert camera.read().kind == "recovered"  # type: ignore[union-attr]
    assert isinstance(camera.read(), Frame)
    assert delays == [0.5, 1.0, 1.5, 1.5, 1.5, 1.5]  # capped so a camera back is streaming within 2 s
    camera.close()


def test_camera_real_backoff_waits_and_stop_ends_it() -> None:
    opener = FakeOpener([["absent"]] * 100)
    camera = CameraSource(0, opener=opener, backoff=(0.02, 0.08))
    camera.open()
    assert camera.read().kind == "lost"  # type: ignore[union-attr]
    thread, results = _read_in_thread(camera)
    time.sleep(0.3)
    camera.stop()
    thread.join(timeout=1)
    assert not thread.is_alive() and results == []
    assert 3 <= len(opener.opened) <= 10  # 0.02 + 0.04 + 0.08 + 0.08 ... within 0.3 s
    camera.close()


def test_camera_opener_that_raises_is_a_lost_camera() -> None:
    def opener(device: int | str) -> Any:
        raise RuntimeError("driver exploded")

    camera = CameraSource("rtsp://user:secret@cam.local:554/stream", opener=opener, wait=lambda s: True)
    assert camera.source_id == "camera:rtsp://user:***@cam.local:554/stream"
    camera.open()
    assert camera.read().kind == "lost"  # type: ignore[union-attr]
    assert camera.read().kind == "end"  # type: ignore[union-attr]  # the fake wait reports "stopped"
    camera.close()


# -- synthetic ----------------------------------------------------------------------------------------------


def test_synthetic_source_is_deterministic() -> None:
    def take(seed: int) -> list[Frame]:
        with SyntheticSource(seed=seed, size=32, defect_rate=0.5, count=6) as source:
            return _frames(list(source))

    first, again, other = take(7), take(7), take(8)
    assert len(first) == 6 and first[0].image.shape == (32, 32, 3) and first[0].image.dtype == np.uint8
    assert all(np.array_equal(a.image, b.image) for a, b in zip(first, again))
    assert not all(np.array_equal(a.image, b.image) for a, b in zip(first, other))
    schedule = [SyntheticSource(seed=7, defect_rate=0.5).defect_at(i) for i in range(200)]
    assert 60 < sum(k is not None for k in schedule) < 140
    assert {k for k in schedule if k} == {"scratch", "hole", "stain"}
    assert SyntheticSource(defect_rate=0.0).defect_at(3) is None


# -- open_source --------------------------------------------------------------------------------------------


def test_open_source_parses_user_text(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "imgs", [1])
    video = _video(tmp_path / "clip.avi", [(1, 2, 3)])
    folder_source = open_source(str(folder), loop=True, fps=5)
    assert isinstance(folder_source, FolderSource) and folder_source.loop
    assert isinstance(open_source(str(video)), VideoFileSource)
    for text, device in [("camera:1", 1), ("3", 3), ("rtsp://cam/stream", "rtsp://cam/stream")]:
        camera = open_source(text, loop=True)  # loop does not apply to cameras: ignored
        assert isinstance(camera, CameraSource) and camera.device == device
    synthetic = open_source("synthetic:5")
    assert isinstance(synthetic, SyntheticSource) and synthetic.seed == 5
    assert isinstance(open_source("Synthetic"), SyntheticSource)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "empty source"), ("nowhere/at/all", "'nowhere/at/all' is no folder"), ("gone.mp4", "video file gone.mp4")],
)
def test_open_source_errors(text: str, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        open_source(text)


def test_open_source_single_image_hint(tmp_path: Path) -> None:
    image = _write(tmp_path / "one.png", 5)
    with pytest.raises(SourceError, match="single image; open its folder"):
        open_source(str(image))
