"""Core split: inference keeps all usable cores but one, the frame reader gets the one left over."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from inspector_app.core import cores
from inspector_app.core.cores import CoreSplit, place_current_thread, split_cores

CAN_PIN = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


@pytest.fixture(autouse=True)
def fresh_split() -> Iterator[None]:
    cores.core_split.cache_clear()
    yield
    cores.core_split.cache_clear()


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ({0, 1}, CoreSplit(frozenset({0}), frozenset({1}))),
        ({2, 5, 7}, CoreSplit(frozenset({2, 5}), frozenset({7}))),
        ({3}, None),
        (set(), None),
    ],
)
def test_split_keeps_the_highest_usable_core_for_the_reader(allowed: set[int], expected: CoreSplit | None) -> None:
    assert split_cores(allowed) == expected


def _affinity_in_thread(role: cores.Role) -> tuple[bool, set[int]]:
    seen: dict[str, object] = {}

    def body() -> None:
        seen["pinned"] = place_current_thread(role)
        seen["cores"] = os.sched_getaffinity(0)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return bool(seen["pinned"]), set(seen["cores"])  # type: ignore[arg-type]


@pytest.mark.skipif(not CAN_PIN, reason="needs Linux thread affinity and at least two usable cores")
def test_threads_are_pinned_to_their_role_and_the_caller_is_not() -> None:
    allowed = os.sched_getaffinity(0)
    split = split_cores(allowed)
    assert split is not None
    assert _affinity_in_thread("inference") == (True, set(split.inference))
    assert _affinity_in_thread("reader") == (True, set(split.reader))
    assert os.sched_getaffinity(0) == allowed  # only the calling thread moves


@pytest.mark.skipif(not CAN_PIN, reason="needs Linux thread affinity and at least two usable cores")
def test_pinning_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSPECTOR_APP_PIN_CORES", "0")
    assert cores.core_split() is None
    assert _affinity_in_thread("reader") == (False, set(os.sched_getaffinity(0)))
