"""Shared pieces of the reliability suite: one tiny trained model, and the fault table ``pytest -m faults`` prints.

Each fault test adds a row (fault kind, tries, survived, data lost) through the ``fault_table`` fixture; the
terminal summary prints the rows of the tests that ran, so one command shows every figure at once.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import tiny_parts_dataset

#: In the normal suite (CI) each fault is repeated this many times; ``pytest -m faults`` (or
#: INSPECTOR_FAULT_TRIES=full, or a number there) runs the full counts and the long cases.
QUICK_TRIES = 3

_ROWS: list[tuple[str, int, int, int, str]] = []
_FULL_RUN = False


def pytest_configure(config: pytest.Config) -> None:
    global _FULL_RUN  # noqa: PLW0603 - set once per session from the command line
    _FULL_RUN = re.search(r"(?<!not )\bfaults\b", config.option.markexpr or "") is not None


def full_run() -> bool:
    """True for ``pytest -m faults`` or INSPECTOR_FAULT_TRIES set: the full fault suite."""
    return _FULL_RUN or bool(os.environ.get("INSPECTOR_FAULT_TRIES"))


def fault_tries(full: int, quick: int = QUICK_TRIES) -> int:
    """How many times to repeat a fault: ``full`` in the full fault suite (or the number INSPECTOR_FAULT_TRIES
    gives), else ``quick`` so the normal suite stays quick."""
    wanted = os.environ.get("INSPECTOR_FAULT_TRIES", "")
    if wanted and wanted != "full":
        return max(1, int(wanted))
    return full if full_run() else min(full, quick)


def record_fault(kind: str, tries: int, survived: int, lost: int, note: str = "") -> None:
    """One row of the printed fault table."""
    _ROWS.append((kind, tries, survived, lost, note))


@pytest.fixture
def fault_table() -> Callable[..., None]:
    """``record(kind, tries, survived, lost, note="")``: one row of the printed fault table."""
    return record_fault


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fault table")
    write(f"{'fault kind':<52}{'tries':>7}{'survived':>10}{'data lost':>11}  note")
    for kind, tries, survived, lost, note in _ROWS:
        write(f"{kind:<52}{tries:>7}{survived:>10}{lost:>11}  {note}")
    bad = sum(1 for _, tries, survived, lost, _ in _ROWS if survived != tries or lost)
    write(f"{len(_ROWS)} fault kinds, {sum(r[1] for r in _ROWS)} tries, "
          f"{'all survived, nothing lost' if not bad else f'{bad} kind(s) with failures or losses'}")


@pytest.fixture(scope="session")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated MVTec-layout dataset (24 good training images)."""
    return tiny_parts_dataset(tmp_path_factory.mktemp("parts"))


TINY = {"image_size": 32, "epochs": 2, "batch_size": 8, "base_filters": 8, "bottleneck": 16}


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
