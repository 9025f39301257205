"""``inspector-app bench --stream``: figures for the live pipeline, printed rather than asserted.

- end-to-end stream throughput on a folder (reader thread → mailbox → worker thread → result signal)
  versus model-only throughput of the same model on the same images, in the same run; and, to tell the
  pipeline's share of the difference from the machine's, model-only throughput with and without a separate
  process decoding those images on the reader's core;
- overlay paint time per frame at 1280×1024 (heatmap blended into the view's image, handed to the view),
  at full resolution and fitted in a window-sized view, also with a repaint of the view;
- time from launch to the window shown, and whether TensorFlow was imported by then;
- resident memory of the running window after 100 frames and after many more, and the frame rate of
  that whole window (painting included) against the model alone.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import psutil
from PySide6.QtCore import QEventLoop, QObject, QSettings, QTimer, Slot
from PySide6.QtWidgets import QApplication

from inspector_app.core.cores import core_split, place_current_thread
from inspector_app.core.images import load_image
from inspector_app.core.modelstore import ModelStore
from inspector_app.core.sources import FolderSource
from inspector_app.gui.inference_worker import InferenceWorker
from inspector_app.gui.inspection.source_reader import SourceReader

T = TypeVar("T")


def _wait(condition: Any, timeout_s: float) -> bool:
    """Run the event loop until ``condition()`` holds; checks every 50 ms instead of busy-polling, so the
    waiting GUI thread does not compete with the worker for the interpreter lock."""
    if condition():
        return True
    loop = QEventLoop()
    deadline = time.monotonic() + timeout_s
    timer = QTimer()
    timer.timeout.connect(lambda: loop.quit() if condition() or time.monotonic() > deadline else None)
    timer.start(50)
    loop.exec()
    timer.stop()
    return bool(condition())


WARMUP_FRAMES = 10
TIMED_FRAMES = 100


def on_inference_cores(work: Callable[[], T]) -> T:
    """Run ``work`` in a short-lived thread placed like the inference worker (on the inference cores) and
    return its result; the caller, the GUI thread here, stays unpinned as in the window."""
    outcome: dict[str, Any] = {}

    def body() -> None:
        place_current_thread("inference")
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=body, name="bench-inference")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def model_only(model: Any, images: list[np.ndarray], count: int = TIMED_FRAMES) -> float:
    """Images per second with the model called directly, one image at a time (as the stream does), from a
    thread on the cores the inference worker uses."""

    def loop() -> float:
        model.inspect(images[0][None])
        started = time.perf_counter()
        for i in range(count):
            model.inspect(images[i % len(images)][None])
        return count / (time.perf_counter() - started)

    return on_inference_cores(loop)


class _Counter(QObject):
    """Counts results on the GUI thread (a decorated slot: PySide6 cross-thread signals need one).

    It keeps only each result's finish time, not the result, as the window keeps only the newest: holding
    every frame and map would make each result land in fresh memory, about 100 page faults a frame that the
    stream would be charged for.
    """

    def __init__(self) -> None:
        super().__init__()
        self.stamps: list[float] = []  # each result's finished_monotonic
        self._loop: QEventLoop | None = None
        self._needed = 0

    @property
    def count(self) -> int:
        return len(self.stamps)

    @Slot(object)
    def add(self, results: list[Any]) -> None:
        self.stamps.extend(r.finished_monotonic for r in results)
        if self._loop is not None and self.count >= self._needed:
            self._loop.quit()

    def wait_for(self, needed: int, timeout_s: float) -> bool:
        """Run the event loop until ``needed`` results have come, or ``timeout_s`` has passed.

        Woken by the results themselves rather than by polling: during a stream round the GUI thread then
        wakes only as the window would, for results, and adds no wake-ups of its own to what is measured.
        """
        if self.count < needed:
            self._loop, self._needed = QEventLoop(), needed
            timer = QTimer()
            timer.setSingleShot(True)
            timer.timeout.connect(self._loop.quit)
            timer.start(int(timeout_s * 1000))
            self._loop.exec()
            timer.stop()
            self._loop = None
        return self.count >= needed


#: A stream round that has not produced its results in this time is reported as stalled.
ROUND_TIMEOUT_S = 600.0


def stream_throughput(store: ModelStore, model: Any, folder: Path, count: int = TIMED_FRAMES) -> float:
    """Steady-state images per second through the real reader and worker threads (the folder loops,
    every image inspected, none dropped).

    Timed by the worker's own finish stamps, from the last warm-up frame (the first ones include opening
    the source) to ``count`` frames later: the time of exactly ``count`` inspections, as in
    :func:`model_only`, whatever the delay before results reach this thread in batches.
    """
    worker = InferenceWorker(store, loader=lambda _s, _r: model)
    counter = _Counter()
    worker.results.connect(counter.add)
    worker.start()
    worker.request_model(model.ref)
    _wait(lambda: worker.model is not None, 60)
    reader = SourceReader(FolderSource(folder, loop=True), worker.mailbox, generation=0, wait_for_worker=True)
    reader.start()
    finished = counter.wait_for(WARMUP_FRAMES + count + 1, ROUND_TIMEOUT_S)
    reader.stop()
    reader.wait(3000)
    worker.stop()
    worker.wait(3000)
    stamps = counter.stamps
    if not finished:
        msg = (f"the stream produced {len(stamps)} results in {ROUND_TIMEOUT_S:g} s, fewer than the "
               f"{WARMUP_FRAMES + count + 1} needed: is every frame failing, or the source stalled?")
        raise RuntimeError(msg)
    return count / (stamps[WARMUP_FRAMES + count] - stamps[WARMUP_FRAMES])


ROUNDS = 40


def throughput_rounds(store: ModelStore, model: Any, images: list[np.ndarray], folder: Path) -> dict[str, Any]:
    """Stream versus model-only throughput, interleaved: model, stream, model, stream, …, model.

    On this shared 2-core machine the model alone swings by a third (84 to 143 images/s seen) from one
    few-second window to the next, so a single pair of measurements says little. Each short stream round is
    compared with the model-only rounds just before and after it, and the median of the per-round ratios is
    the figure, with a 95 % bootstrap interval over the rounds (every round is printed too).
    """
    model_rates = [model_only(model, images)]
    stream_rates, ratios = [], []
    for _ in range(ROUNDS):
        stream_rates.append(stream_throughput(store, model, folder))
        model_rates.append(model_only(model, images))
        ratios.append(stream_rates[-1] / ((model_rates[-2] + model_rates[-1]) / 2))
    return {
        "stream_images_per_s": float(np.median(stream_rates)),
        "model_only_images_per_s": float(np.median(model_rates)),
        "stream_to_model_ratio": float(np.median(ratios)),
        "stream_to_model_ratio_ci95": [round(v, 3) for v in median_interval(ratios)],
        "stream_to_model_ratio_per_round": [round(r, 3) for r in ratios],
    }


#: Paired rounds of :func:`decoding_beside`.
BESIDE_ROUNDS = 30


def decode_paced(files: list[str], rate: float, running: Any, stop: Any, ready: Any, decoded: Any) -> None:
    """Body of the process :func:`decoding_beside` starts: decode ``files`` in turn on the reader's core, as
    the frame reader would, ``rate`` per second, while ``running`` is set, until ``stop`` is. ``ready`` is set
    once the process has imported everything and placed itself; ``decoded`` counts the frames (a value, set
    to -1 first when it could not be pinned)."""
    if not place_current_thread("reader"):
        decoded.value = -1
    ready.set()
    index = 0
    while not stop.is_set():
        if not running.wait(0.1):
            continue
        started = time.perf_counter()
        load_image(files[index % len(files)])
        index += 1
        with decoded.get_lock():
            decoded.value = max(decoded.value, 0) + 1
        time.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))


def pair_order(pair: int) -> tuple[bool, bool]:
    """Whether each half of pair ``pair`` runs beside the decoder: idle first, then busy first, in turn."""
    return (False, True) if pair % 2 == 0 else (True, False)


def decoding_beside(model: Any, images: list[np.ndarray], files: list[Path], rounds: int = BESIDE_ROUNDS,
                    count: int = TIMED_FRAMES) -> dict[str, Any]:
    """Model-only throughput while a separate process decodes the same files on the reader's core at the
    model's rate, against the same with that core idle: the reader's load with no pipeline at all.

    No interpreter lock, queue or signal is shared with that process, so what this ratio loses is what the
    machine itself charges inference for work on the other core (on a virtual machine, cores that share a
    physical one, or its caches); what the stream loses beyond it is the pipeline's own. Rounds are paired
    idle/busy, the order alternating so a drift in the machine's speed cancels out. The decoder's own rate
    in the busy rounds, and the frames it still decoded in idle ones, are reported so the figure can be
    trusted; a decoder that stops decoding is an error, not a ratio of 1.
    """
    if core_split() is None:
        return {}
    context = multiprocessing.get_context("spawn")  # a fork would copy TensorFlow's and Qt's threads' locks
    running, stop, ready = context.Event(), context.Event(), context.Event()
    decoded = context.Value("q", 0)
    rate = model_only(model, images, count)
    decoder = context.Process(target=decode_paced, args=([str(f) for f in files], rate, running, stop, ready, decoded),
                              name="bench-decoder", daemon=True)
    decoder.start()
    ratios, busy_frames, busy_time, idle_frames = [], 0, 0.0, 0
    try:
        if not ready.wait(120):
            msg = f"the decoding process did not start (exit code {decoder.exitcode})"
            raise RuntimeError(msg)
        pinned = decoded.value != -1
        for pair in range(rounds):
            rates = {}
            for busy in pair_order(pair):
                if busy:
                    running.set()
                else:
                    running.clear()
                time.sleep(0.05)  # let the decoder start, or finish the frame it was on
                before, started = max(decoded.value, 0), time.perf_counter()
                rates[busy] = model_only(model, images, count)
                frames = max(decoded.value, 0) - before
                if busy and frames == 0:
                    msg = f"the decoding process decoded nothing in a busy round (exit code {decoder.exitcode})"
                    raise RuntimeError(msg)
                if busy:
                    busy_frames, busy_time = busy_frames + frames, busy_time + time.perf_counter() - started
                else:
                    idle_frames += frames
            ratios.append(rates[True] / rates[False])
    finally:
        running.clear()
        stop.set()
        decoder.join(5)
        if decoder.is_alive():
            decoder.kill()
            decoder.join(5)
    return {
        "model_beside_decoding_ratio": float(np.median(ratios)),
        "model_beside_decoding_ratio_ci95": [round(v, 3) for v in median_interval(ratios)],
        "beside_decoder_frames_per_s": busy_frames / busy_time,
        "beside_decoder_frames_in_idle_rounds": idle_frames,
        "beside_decoder_pinned_to_reader_core": pinned,
    }


def median_interval(values: list[float], resamples: int = 4000) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the median: how far the figure could move on another run
    under the same noise (seeded, so a run's report is reproducible from its rounds)."""
    data = np.asarray(values, float)
    picks = np.random.default_rng(0).integers(0, len(data), (resamples, len(data)))
    medians = np.median(data[picks], axis=1)
    return float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))


#: The central view's size in a 1400×900 main window (measured on the screenshots in docs/).
FITTED_VIEW = (1060, 490)


def overlay_ms(repeats: int = 50) -> dict[str, float]:
    """Per-frame cost of showing a 1280×1024 heatmap overlay the way the window does, median of ``repeats``.

    ``overlay_ms_1280x1024``: blend and hand the pixmap to the view (``ImageView.show_heatmap``), zoomed in so
    every pixel of the frame is drawn: the most work a frame can cost. ``overlay_fitted_ms``: the same frame
    fitted in a view of :data:`FITTED_VIEW` (as the window opens), drawn in the view's screen pixels.
    ``…_and_repaint_ms``: each plus a synchronous repaint of the view (Qt scaling the pixmap to the screen).
    The map is random in 0..2, so every pixel is blended (the worst case; on a good part hardly any is).
    """
    from inspector_app.gui.inspection.image_view import ImageView  # noqa: PLC0415

    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (1024, 1280, 3), np.uint8)
    heat = rng.random((1024, 1280), dtype=np.float32) * 2
    view = ImageView()
    view.resize(*FITTED_VIEW)
    view.show()
    QApplication.processEvents()

    def median_ms(repaint: bool) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            view.show_heatmap(image, heat, 0.55)
            if repaint:
                view.viewport().repaint()
            times.append((time.perf_counter() - started) * 1000)
        return float(np.median(times))

    figures = {"overlay_fitted_ms": median_ms(False), "overlay_fitted_and_repaint_ms": median_ms(True),
               "overlay_fitted_drawn_size": list(view.drawn_size)}
    view.zoom(1.25)
    figures.update({"overlay_ms_1280x1024": median_ms(False), "overlay_and_repaint_ms": median_ms(True)})
    view.close()
    return figures


def launch_time() -> dict[str, Any]:
    """Start a fresh ``inspector-app gui`` that reports when its window is shown, then quits."""
    env = {**os.environ, "INSPECTOR_APP_REPORT_STARTUP": "1", "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    with tempfile.TemporaryDirectory() as home:
        started = time.time()
        out = subprocess.run([sys.executable, "-m", "inspector_app", "--data-dir", home, "gui"],
                             capture_output=True, text=True, env=env, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            report = json.loads(line)
            report["launch_to_shown_s"] = report["shown_at"] - started
            return report
    return {"error": out.stderr[-500:]}


def memory_over_frames(store: ModelStore, model: Any, folder: Path, frames: int) -> tuple[float, float, float]:
    """RSS of the real window (looping the folder) after 100 frames and after ``frames`` frames."""
    from inspector_app.gui.inspection.source_panel import SourceSpec  # noqa: PLC0415
    from inspector_app.gui.main_window import MainWindow  # noqa: PLC0415

    settings = QSettings(str(Path(tempfile.mkdtemp()) / "bench.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, settings, loader=lambda _s, _r: model)
    window.show()
    window.choose_model(model.ref)
    _wait(lambda: window.model is not None, 60)
    window.open_source(SourceSpec("folder", str(folder), loop=True))
    process = psutil.Process()
    _wait(lambda: window.stats.inspected >= 100, 600)
    after_100 = process.memory_info().rss / 2**20
    started = time.perf_counter()
    _wait(lambda: window.stats.inspected >= frames, 3600)
    elapsed = time.perf_counter() - started
    after_n = process.memory_info().rss / 2**20
    window.shutdown()
    window.close()
    return after_100, after_n, (window.stats.inspected - 100) / elapsed


def run_stream_bench(store: ModelStore, model: Any, files: list[Path], frames: int) -> dict[str, Any]:
    """Live-pipeline figures over ``files`` (the CLI picks them: a folder's images or a dataset's test images)."""
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp)
        for i, f in enumerate(files):  # numbered: a dataset's sub-folders repeat names such as 000.png
            os.symlink(Path(f).resolve(), subset / f"{i:05d}{Path(f).suffix.lower()}")
        images = [load_image(f) for f in files]
        figures: dict[str, Any] = {"model": str(model.ref), "images": len(files), "image_shape": list(images[0].shape)}
        figures.update(throughput_rounds(store, model, images, subset))
        figures.update(decoding_beside(model, images, files))
        figures.update(overlay_ms())
        figures.update(launch_time())
        if frames:
            before = model_only(model, images)
            m100, mn, fps = memory_over_frames(store, model, subset, frames)
            around = (before + model_only(model, images)) / 2
            figures.update({
                "rss_mb_after_100": m100, f"rss_mb_after_{frames}": mn, "window_frames_per_s": fps,
                # The whole window (painting, chart, counters, capture recorder) against the model alone,
                # measured just before and after it: what an operator's screen gets of the model's speed.
                "window_to_model_ratio": fps / around,
            })
    del app
    return figures
