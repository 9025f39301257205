"""The stream bench's two rates measure the same thing: a fixed number of inspections over their own time."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

from benchmarks import stream_bench
from helpers import BrightFailsModel
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelRef, ModelStore


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    images = tmp_path / "frames"
    images.mkdir()
    for i in range(6):
        save_image(images / f"{i:02d}.png", np.full((32, 32, 3), 40 * i, np.uint8))
    return images


def test_stream_and_model_rates_agree_with_a_model_of_known_speed(qtbot, tmp_path: Path, folder: Path) -> None:  # noqa: ARG001
    """A 20 ms model runs at about 50 images/s alone and through the reader and worker alike."""
    model = BrightFailsModel(ModelRef("fake", "v1"), delay=0.02)
    stream = stream_bench.stream_throughput(ModelStore(tmp_path / "models"), model, folder, count=15)
    alone = stream_bench.model_only(model, [np.zeros((32, 32, 3), np.uint8)], count=15)
    assert 35 < alone <= 50.5
    assert 35 < stream <= 50.5
    assert model.calls >= stream_bench.WARMUP_FRAMES + 15 + 15


def test_a_stream_too_slow_to_finish_is_reported_not_indexed(qtbot, tmp_path: Path, folder: Path,  # noqa: ARG001
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_bench, "ROUND_TIMEOUT_S", 0.5)
    model = BrightFailsModel(ModelRef("fake", "v1"), delay=0.2)
    with pytest.raises(RuntimeError, match="in 0.5 s, fewer than"):
        stream_bench.stream_throughput(ModelStore(tmp_path / "models"), model, folder, count=15)


def test_the_interval_of_the_median_holds_the_median_and_narrows_with_more_rounds() -> None:
    rng = np.random.default_rng(3)
    few, many = rng.normal(0.95, 0.04, 10).tolist(), rng.normal(0.95, 0.04, 400).tolist()
    low, high = stream_bench.median_interval(few)
    assert low <= float(np.median(few)) <= high
    low_many, high_many = stream_bench.median_interval(many)
    assert high_many - low_many < (high - low) / 2
    assert low_many < 0.95 < high_many


def test_decoding_beside_pairs_idle_and_busy_rounds_and_ends_its_process(folder: Path) -> None:
    """With a model that sleeps, the decoder costs it nothing: the ratio is about 1. The decoder decodes in
    the busy rounds at about the model's pace, hardly at all in the idle ones, and its process ends."""
    if stream_bench.core_split() is None:
        pytest.skip("needs two cores the process may pin threads to")
    model = BrightFailsModel(ModelRef("fake", "v1"), delay=0.01)
    files = sorted(folder.iterdir())
    before = {p.pid for p in multiprocessing.active_children()}
    figures = stream_bench.decoding_beside(model, [np.zeros((32, 32, 3), np.uint8)], files, rounds=4, count=10)
    low, high = figures["model_beside_decoding_ratio_ci95"]
    assert 0.8 < low <= figures["model_beside_decoding_ratio"] <= high < 1.2
    # One rate for the decoder's pace, then both halves of every pair; each a warm-up call and 10 timed.
    assert model.calls == (1 + 4 * 2) * (1 + 10)
    assert 0.3 * 100 < figures["beside_decoder_frames_per_s"] < 1.2 * 100  # the model's pace: at most 100/s
    assert figures["beside_decoder_frames_in_idle_rounds"] <= 4  # at most the frame it was on, each idle round
    assert figures["beside_decoder_pinned_to_reader_core"]
    assert {p.pid for p in multiprocessing.active_children()} == before


def test_a_decoder_that_fails_is_an_error_not_a_ratio(folder: Path) -> None:
    if stream_bench.core_split() is None:
        pytest.skip("needs two cores the process may pin threads to")
    (folder / "notes.png").write_text("not a picture")
    model = BrightFailsModel(ModelRef("fake", "v1"), delay=0.01)
    before = {p.pid for p in multiprocessing.active_children()}
    with pytest.raises(RuntimeError, match="decoded nothing in a busy round"):
        stream_bench.decoding_beside(model, [np.zeros((32, 32, 3), np.uint8)], [folder / "notes.png"], rounds=2,
                                     count=10)
    assert {p.pid for p in multiprocessing.active_children()} == before


def test_pairs_take_turns_at_running_idle_first() -> None:
    orders = [stream_bench.pair_order(pair) for pair in range(4)]
    assert orders == [(False, True), (True, False), (False, True), (True, False)]
