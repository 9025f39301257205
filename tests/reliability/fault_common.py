"""What the reliability tests share besides fixtures: how many times to repeat a fault and the fault table's rows.

Kept out of conftest.py so test modules import it by a name of its own (``conftest`` is a name every test
folder may use).
"""

from __future__ import annotations

import os

#: In the normal suite (CI) each fault is repeated this many times; ``pytest -m faults`` (or
#: INSPECTOR_FAULT_TRIES=full, or a number there) runs the full counts and the long cases.
QUICK_TRIES = 3

#: The tiny autoencoder every reliability test trains (seconds on a CPU).
TINY = {"image_size": 32, "epochs": 2, "batch_size": 8, "base_filters": 8, "bottleneck": 16}

ROWS: list[tuple[str, int, int, int, str]] = []
FULL_RUN = {"on": False}  # set by conftest.pytest_configure from the command line's -m


def full_run() -> bool:
    """True for ``pytest -m faults`` or INSPECTOR_FAULT_TRIES set: the full fault suite."""
    return FULL_RUN["on"] or bool(os.environ.get("INSPECTOR_FAULT_TRIES"))


def fault_tries(full: int, quick: int = QUICK_TRIES) -> int:
    """How many times to repeat a fault: ``full`` in the full fault suite (or the number INSPECTOR_FAULT_TRIES
    gives), else ``quick`` so the normal suite stays quick."""
    wanted = os.environ.get("INSPECTOR_FAULT_TRIES", "")
    if wanted and wanted != "full":
        return max(1, int(wanted))
    return full if full_run() else min(full, quick)


def record_fault(kind: str, tries: int, survived: int, lost: int, note: str = "") -> None:
    """One row of the printed fault table."""
    ROWS.append((kind, tries, survived, lost, note))
