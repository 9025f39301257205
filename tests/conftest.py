"""Test-wide set-up: offscreen Qt, a private data dir per test, and the ../shared data location."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/helpers.py

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data folder, so nothing leaks into the user's real models or captures."""
    home = tmp_path / "inspector-home"
    monkeypatch.setenv("INSPECTOR_APP_HOME", str(home))
    return home


@pytest.fixture
def shared_data() -> Path:
    """../shared/data beside the project, or a skip that says why."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED_DATA}: real-data tests need the shared datasets")
    return SHARED_DATA
