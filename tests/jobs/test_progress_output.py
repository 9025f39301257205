"""The terminal progress: redrawn in place on a terminal, one line per stage into a file or pipe."""

from __future__ import annotations

import io

from inspector_app.jobs.progress_output import TerminalBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def feed(bar: TerminalBar) -> None:
    for i in range(101):
        bar({"stage": "load", "fraction": i / 100, "message": "loading good images"})
    bar({"stage": "train", "epoch": 0, "epochs": 2, "message": "training started"})
    for epoch in (1, 2):
        bar({"stage": "train", "epoch": epoch, "epochs": 2, "loss": 0.5 / epoch, "eta": 3.0})
    bar({"stage": "calibrate", "message": "threshold 1.23"})


def test_a_pipe_gets_one_line_per_stage_and_epoch_without_redraws() -> None:
    log = io.StringIO()
    feed(TerminalBar(log))
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "loading good images ..."
    assert sum("loading" in line for line in lines) == 1
    assert [line.split("] ")[1].split(" loss")[0] for line in lines if line.startswith("[")] == [
        "epoch 0/2", "epoch 1/2", "epoch 2/2"]
    assert lines[-1] == "calibrate: threshold 1.23"
    assert len(lines) == 5


def test_a_terminal_sees_the_bar_redrawn_in_place_and_each_message_on_its_own_line() -> None:
    screen = Terminal()
    feed(TerminalBar(screen))
    text = screen.getvalue()
    assert text.count("\rloading good images:") == 101
    assert "\rloading good images: 100%   \n" in text  # the finished bar keeps its line
    assert "\n[###############---------------] epoch 1/2" not in text  # epochs redraw one line
    assert text.endswith("calibrate: threshold 1.23\n")
    assert text.count("\n") == 3  # the finished load bar, the finished epoch bar, the message
