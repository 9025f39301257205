"""Fixtures of the reliability suite (one tiny trained model) and the fault table ``pytest -m faults`` prints.

Each fault test adds a row (fault kind, tries, survived, data lost) through ``fault_common.record_fault`` or the
``fault_table`` fixture; the terminal summary prints the rows of the tests that ran, so one command shows every
figure at once.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fault_common import FULL_RUN, ROWS, TINY, record_fault
from helpers import tiny_parts_dataset


def pytest_configure(config: pytest.Config) -> None:
    FULL_RUN["on"] = re.search(r"(?<!not )\bfaults\b", config.option.markexpr or "") is not None


@pytest.fixture
def fault_table() -> Callable[..., None]:
    """``record(kind, tries, survived, lost, note="")``: one row of the printed fault table."""
    return record_fault


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault table")
    write(f"{'fault kind':<56}{'tries':>7}{'survived':>10}{'data lost':>11}  note")
    for kind, tries, survived, lost, note in ROWS:
        write(f"{kind:<56}{tries:>7}{survived:>10}{lost:>11}  {note}")
    bad = sum(1 for _, tries, survived, lost, _ in ROWS if survived != tries or lost)
    write(f"{len(ROWS)} fault kinds, {sum(r[1] for r in ROWS)} tries, "
          f"{'all survived, nothing lost' if not bad else f'{bad} kind(s) with failures or losses'}")


@pytest.fixture(scope="session")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated MVTec-layout dataset (24 good training images)."""
    return tiny_parts_dataset(tmp_path_factory.mktemp("parts"))


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory, parts: Path) -> Path:
    """A data folder holding one tiny trained autoencoder, ``widget@v1``, active (trained once per session)."""
    from inspector_app.core.modelstore import ModelStore  # noqa: PLC0415
    from inspector_app.detectors.base import Progress  # noqa: PLC0415
    from inspector_app.jobs.training import run_training  # noqa: PLC0415
    from inspector_app.jobs.training_spec import TrainingSpec  # noqa: PLC0415

    home = tmp_path_factory.mktemp("trained") / "home"
    run_training(TrainingSpec("autoencoder", [str(parts)], "widget", dict(TINY), activate=True),
                 ModelStore(home), Progress())
    return home


@pytest.fixture
def home(trained_home: Path, tmp_path: Path) -> Path:
    """A private copy of ``trained_home`` that a test may damage."""
    copy = tmp_path / "home-copy"
    shutil.copytree(trained_home, copy)
    return copy
