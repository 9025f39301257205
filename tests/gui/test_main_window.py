"""The inspection window with fake models and sources: verdicts, counters, pause/step, drops, failures."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, QTimer

from inspector_app.core.errors import ModelStoreError
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.sources import CameraSource, Frame, FrameSource
from inspector_app.gui.main_window import MainWindow
from inspector_app.gui.inspection.source_panel import SourceSpec
from inspector_app.gui.inspection.verdict_banner import BannerState
from helpers import BrightFailsModel


class FakeLoader:
    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.loaded: list[BrightFailsModel] = []

    def __call__(self, store: ModelStore, ref: ModelRef) -> BrightFailsModel:
        if ref.name == "broken":
            raise ModelStoreError(f"model {ref} could not be loaded: weights file is corrupt")
        model = BrightFailsModel(ref, self.delay)
        self.loaded.append(model)
        return model


def make_folder(folder: Path, values: list[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, v in enumerate(values):
        save_image(folder / f"img_{i:03d}.png", np.full((24, 32, 3), v, np.uint8))
    return folder


@pytest.fixture
def window(qtbot: Any, tmp_path: Path) -> Any:
    def build(delay: float = 0.0) -> MainWindow:
        store = ModelStore(tmp_path / "data")
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(store, settings, loader=FakeLoader(delay))
        qtbot.addWidget(win)
        win.show()
        built.append(win)
        return win

    built: list[MainWindow] = []
    yield build
    for win in built:
        win.shutdown()


def load_fake_model(qtbot: Any, win: MainWindow, name: str = "widget") -> None:
    with qtbot.waitSignal(win.worker.model_loaded, timeout=5000):
        win.choose_model(ModelRef(name, "v1"))


def stream_then_pause(qtbot: Any, win: MainWindow, spec: SourceSpec, first: int,
                      source: FrameSource | None = None) -> list[Any]:
    """Load the fake model, stream ``spec`` until ``first`` results are in, pause and let in-flight frames
    settle; returns the window's results, a list that keeps growing as the test steps or resumes."""
    load_fake_model(qtbot, win)
    results: list[Any] = []
    win.inspected.connect(results.append)
    win.open_source(spec, source=source)
    qtbot.waitUntil(lambda: len(results) >= first, timeout=5000)
    win.toggle_pause()
    qtbot.wait(300)
    return results


def test_window_opens_without_importing_tensorflow() -> None:
    """TensorFlow, scikit-learn and scipy.stats take seconds to import: the window must open without them."""
    code = (
        "import sys, os; os.environ['QT_QPA_PLATFORM']='offscreen';"
        "from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from inspector_app.core.modelstore import ModelStore; from inspector_app.gui.main_window import MainWindow;"
        "import tempfile; w = MainWindow(ModelStore(tempfile.mkdtemp())); w.show(); app.processEvents();"
        "print('TF', 'tensorflow' in sys.modules, 'SK', 'sklearn' in sys.modules or 'scipy.stats' in sys.modules);"
        "w.shutdown()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "TF False SK False" in out.stdout, out.stderr


def test_no_source_and_no_model_states(window: Any, qtbot: Any, tmp_path: Path) -> None:
    win = window()
    assert win.banner.state is BannerState.NO_SOURCE
    win.open_source(SourceSpec("folder", str(make_folder(tmp_path / "imgs", [10, 20]))))
    qtbot.waitUntil(lambda: win.banner.state is BannerState.NO_MODEL, timeout=3000)
    assert win.stats.inspected == 0


def test_folder_gives_one_verdict_per_image_and_counters_add_up(window: Any, qtbot: Any, tmp_path: Path) -> None:
    values = [20, 200, 30, 220, 40, 50, 240, 10]  # bright (> 0.5 × 255) ones fail
    folder = make_folder(tmp_path / "imgs", values)
    win = window()
    load_fake_model(qtbot, win)
    results: list[Any] = []
    win.inspected.connect(results.append)
    win.open_source(SourceSpec("folder", str(folder)))
    qtbot.waitUntil(lambda: len(results) == len(values), timeout=10000)
    qtbot.wait(200)
    assert len(results) == len(values)  # no duplicates, none dropped
    assert [Path(r.frame.path).name for r in results] == [f"img_{i:03d}.png" for i in range(len(values))]
    assert [r.failed for r in results] == [v > 127 for v in values]
    s = win.stats.snapshot()
    assert (s.inspected, s.passed, s.failed, s.dropped) == (8, 5, 3, 0)
    assert s.passed + s.failed == s.inspected
    qtbot.waitUntil(lambda: win.counters.labels["inspected"].text() == "8", timeout=2000)
    assert win.counters.labels["fail"].text() == "3"
    assert win.banner.state in {BannerState.PASS, BannerState.FAIL}
    # The chart redraws at a lower rate than the image, but still catches up with the last frame.
    qtbot.waitUntil(lambda: win.chart._line.getData()[1] is not None and len(win.chart._line.getData()[1]) == 8, timeout=2000)


def test_pause_and_single_step(window: Any, qtbot: Any, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "imgs", [10] * 30)
    win = window()
    load_fake_model(qtbot, win)
    win.open_source(SourceSpec("folder", str(folder), fps=20))
    qtbot.waitUntil(lambda: win.stats.inspected >= 2, timeout=5000)
    win.toggle_pause()
    qtbot.wait(400)
    frozen = win.stats.inspected
    qtbot.wait(500)
    assert win.stats.inspected == frozen  # paused: nothing new
    win.step()
    qtbot.waitUntil(lambda: win.stats.inspected == frozen + 1, timeout=3000)
    qtbot.wait(400)
    assert win.stats.inspected == frozen + 1  # exactly one frame per step
    win.toggle_pause()
    qtbot.waitUntil(lambda: win.stats.inspected >= frozen + 3, timeout=5000)


def test_pause_and_step_on_an_unpaced_folder_keep_every_image_in_order(window: Any, qtbot: Any, tmp_path: Path) -> None:
    """An unpaced folder is read ahead of the model; pausing holds those frames and stepping lets out one."""
    folder = make_folder(tmp_path / "imgs", [10] * 30)
    win = window(delay=0.03)
    results = stream_then_pause(qtbot, win, SourceSpec("folder", str(folder)), first=3)
    frozen = len(results)
    assert len(win.worker.mailbox) > 0  # frames read ahead wait, held
    qtbot.wait(300)
    assert len(results) == frozen
    win.step()
    qtbot.waitUntil(lambda: len(results) == frozen + 1, timeout=3000)
    qtbot.wait(300)
    assert len(results) == frozen + 1
    win.toggle_pause()
    qtbot.waitUntil(lambda: len(results) == 30, timeout=10000)
    qtbot.wait(200)
    assert [Path(r.frame.path).name for r in results] == [f"img_{i:03d}.png" for i in range(30)]


class LiveFrames(FrameSource):
    """A 100 frames/s camera stand-in: frame i is grey level i % 256, stamped when it is read."""

    def __init__(self) -> None:
        super().__init__("camera:fake")

    def _open(self) -> None:
        pass

    def _close(self) -> None:
        pass

    def _read(self) -> Frame:
        time.sleep(0.01)
        return self._frame(np.full((8, 8, 3), self._index % 256, np.uint8))


def test_a_step_on_a_live_source_inspects_a_frame_read_after_the_press(window: Any, qtbot: Any) -> None:
    win = window()
    results = stream_then_pause(qtbot, win, SourceSpec("camera", "0"), first=5, source=LiveFrames())
    for _ in range(3):
        seen, pressed = len(results), time.time()
        win.step()
        qtbot.waitUntil(lambda: len(results) == seen + 1, timeout=3000)
        qtbot.wait(200)
        assert len(results) == seen + 1
        assert results[-1].frame.timestamp >= pressed  # never the frame that waited while paused


def test_two_quick_steps_inspect_two_frames(window: Any, qtbot: Any, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "imgs", [10] * 40)
    win = window(delay=0.02)
    results = stream_then_pause(qtbot, win, SourceSpec("folder", str(folder)), first=2)
    seen = len(results)
    win.step()
    win.step()  # before the first step's frame is through
    qtbot.waitUntil(lambda: len(results) == seen + 2, timeout=3000)
    qtbot.wait(300)
    assert len(results) == seen + 2


def test_a_model_switch_on_an_unpaced_folder_skips_no_image(window: Any, qtbot: Any, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "imgs", [10] * 60)
    win = window(delay=0.02)
    load_fake_model(qtbot, win, "first")
    results: list[Any] = []
    win.inspected.connect(results.append)
    win.open_source(SourceSpec("folder", str(folder)))
    qtbot.waitUntil(lambda: len(results) >= 10, timeout=5000)
    load_fake_model(qtbot, win, "second")
    qtbot.waitUntil(lambda: len(results) == 60, timeout=10000)
    qtbot.wait(200)
    assert [Path(r.frame.path).name for r in results] == [f"img_{i:03d}.png" for i in range(60)]
    models = [r.model_name for r in results]
    switch = models.index("second")
    assert set(models[:switch]) == {"first"} and set(models[switch:]) == {"second"}
    assert win.stats.inspected == 60 - switch  # counters restart with the new model


def test_slow_model_drops_stale_frames_and_gui_stays_responsive(window: Any, qtbot: Any, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "imgs", list(range(0, 250, 5)))
    win = window(delay=0.25)  # a model at 4 frames/s fed at 40 frames/s
    load_fake_model(qtbot, win)
    win.open_source(SourceSpec("folder", str(folder), loop=True, fps=40))
    delays: list[float] = []

    def probe() -> None:
        delays.append(time.perf_counter() - probe.asked)  # type: ignore[attr-defined]
        if len(delays) < 20:
            probe.asked = time.perf_counter()  # type: ignore[attr-defined]
            QTimer.singleShot(0, probe)

    qtbot.wait(300)
    for _ in range(20):
        probe.asked = time.perf_counter()  # type: ignore[attr-defined]
        QTimer.singleShot(0, probe)
        qtbot.wait(100)
    qtbot.waitUntil(lambda: win.worker.mailbox.dropped > 10, timeout=5000)
    assert win.stats.inspected <= 12  # about 4 per second, not one per offered frame
    assert max(delays) < 0.1, f"event loop stalled for {max(delays):.3f} s"
    qtbot.waitUntil(lambda: win.counters.labels["dropped"].text() != "0", timeout=2000)


class FlakyCapture:
    """A fake cv2.VideoCapture: frames, then the camera is unplugged, then it comes back."""

    def __init__(self, plan: list[str]) -> None:
        self.plan = plan

    def isOpened(self) -> bool:  # noqa: N802 - cv2 API
        return bool(self.plan) and self.plan[0] != "absent"

    def read(self) -> tuple[bool, np.ndarray | None]:
        state = self.plan.pop(0) if self.plan else "ok"
        if state == "ok":
            return True, np.full((24, 32, 3), 30, np.uint8)
        return False, None

    def release(self) -> None:
        pass

    def set(self, *_args: Any) -> bool:
        return True


def test_camera_that_fails_then_recovers(window: Any, qtbot: Any) -> None:
    # 5 frames, the cable is pulled (a failed grab), the camera is absent for 3 reconnect tries, then back.
    opens = iter([["ok"] * 5 + ["fail"], ["absent"], ["absent"], ["absent"], ["ok"] * 100000])

    def opener(_device: Any) -> FlakyCapture:
        return FlakyCapture(next(opens, ["ok"] * 100000))

    win = window()
    load_fake_model(qtbot, win)
    states: list[BannerState] = []
    original = win.banner.set_state

    def record(state: BannerState, detail: str = "") -> None:
        states.append(state)
        original(state, detail)

    win.banner.set_state = record  # type: ignore[method-assign]
    source = CameraSource(0, opener=opener, backoff=(0.05, 0.2))
    win.open_source(SourceSpec("camera", "0"), source=source)
    qtbot.waitUntil(lambda: BannerState.SOURCE_LOST in states, timeout=5000)
    lost_at = states.index(BannerState.SOURCE_LOST)
    qtbot.waitUntil(lambda: BannerState.PASS in states[lost_at:], timeout=5000)
    qtbot.waitUntil(lambda: win.stats.inspected > 5, timeout=5000)  # inspecting again after the recovery
    lines = "\n".join(win.log_panel.lines())
    assert "source lost" in lines and "source back" in lines
    assert win.reader is not None and win.reader.isRunning()  # same reader: it came back by itself


def test_broken_model_keeps_the_previous_one_running(window: Any, qtbot: Any, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "imgs", [10] * 10)
    win = window()
    load_fake_model(qtbot, win, "good")
    win.open_source(SourceSpec("folder", str(folder), loop=True, fps=30))
    qtbot.waitUntil(lambda: win.stats.inspected >= 3, timeout=5000)
    with qtbot.waitSignal(win.worker.model_failed, timeout=5000):
        win.choose_model(ModelRef("broken", "v1"))
    assert win.model.ref == ModelRef("good", "v1")
    before = win.stats.inspected
    qtbot.waitUntil(lambda: win.stats.inspected >= before + 3, timeout=5000)  # still inspecting
    assert any("weights file is corrupt" in line for line in win.log_panel.lines())


def test_broken_model_with_no_previous_model_shows_no_model(window: Any, qtbot: Any) -> None:
    win = window()
    with qtbot.waitSignal(win.worker.model_failed, timeout=5000):
        win.choose_model(ModelRef("broken", "v1"))
    assert win.banner.state is BannerState.NO_MODEL
    assert "failed to load" in win.banner.detail


def test_unreadable_frame_is_skipped_with_a_log_line(window: Any, qtbot: Any, tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "imgs", [10, 20, 30])
    (folder / "img_001b.png").write_bytes(b"this is not a png")
    win = window()
    load_fake_model(qtbot, win)
    win.open_source(SourceSpec("folder", str(folder)))
    qtbot.waitUntil(lambda: win.stats.inspected == 3, timeout=5000)
    qtbot.waitUntil(lambda: any("img_001b.png" in line for line in win.log_panel.lines()), timeout=2000)
    assert win.stats.skipped == 1


def test_switching_source_while_running(window: Any, qtbot: Any, tmp_path: Path) -> None:
    first = make_folder(tmp_path / "a", [10] * 5)
    second = make_folder(tmp_path / "b", [240] * 4)
    win = window()
    load_fake_model(qtbot, win)
    win.open_source(SourceSpec("folder", str(first), loop=True, fps=30))
    qtbot.waitUntil(lambda: win.stats.inspected >= 3, timeout=5000)
    win.open_source(SourceSpec("folder", str(second)))
    qtbot.waitUntil(lambda: win.stats.inspected == 4, timeout=5000)
    qtbot.wait(300)
    assert win.stats.failed == 4 and win.stats.inspected == 4  # only the new source's frames counted


def test_capture_as_good_emits_the_current_frame(window: Any, qtbot: Any, tmp_path: Path) -> None:
    win = window()
    load_fake_model(qtbot, win)
    win.open_source(SourceSpec("folder", str(make_folder(tmp_path / "imgs", [10]))))
    qtbot.waitUntil(lambda: win.stats.inspected == 1, timeout=5000)
    with qtbot.waitSignal(win.capture_good_requested, timeout=2000) as blocker:
        win.capture_good()
    assert blocker.args[0].index == 0
