"""Capture store: decisions that survive restarts and kills, safe pruning, filters, undo and safe exports."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inspector_app.core.captures import files as captures_files
from inspector_app.core.captures import store as captures_store
from inspector_app.core.captures import (
    DECISIONS,
    SCHEMA_VERSION,
    CaptureNotFoundError,
    CaptureRecord,
    CaptureStore,
    CaptureStoreError,
    escape_spreadsheet_cell,
)
from inspector_app.core.images import load_image

T0 = 1_700_000_000.0  # a fixed capture time, so ordering tests do not depend on the clock


@pytest.fixture
def fast_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the per-file fsyncs in tests that store hundreds of captures (durability is not what they test)."""
    monkeypatch.setattr(captures_files, "fsync_file", lambda path: None)
    monkeypatch.setattr(captures_files, "fsync_dir", lambda folder: None)


def frame(value: int = 0, size: int = 16) -> np.ndarray:
    image = np.zeros((size, size, 3), np.uint8)
    image[..., 0] = value % 256
    image[: size // 2, :, 1] = np.arange(size, dtype=np.uint8) * 7
    return image


def add(store: CaptureStore, *, failed: bool = True, at: float = T0, **overrides: Any) -> CaptureRecord:
    values: dict[str, Any] = {
        "source": "camera-0",
        "frame_index": int(at - T0),
        "model_name": "widget",
        "model_version": "v1",
        "score": 2.0 if failed else 0.5,
        "normalised_score": 1.6 if failed else 0.4,
        "threshold": 1.25,
        "failed": failed,
        "captured_at": at,
    }
    values.update(overrides)
    return store.record(frame(int(at)), **values)


# -- writing and reading back -------------------------------------------------------------------------------
def test_record_writes_png_map_and_row(tmp_path: Path) -> None:
    heat = np.linspace(0, 2, 16 * 16, dtype=np.float32).reshape(16, 16)
    with CaptureStore(tmp_path) as store:
        stored = add(store, anomaly_map=heat)
        assert stored.image_path == tmp_path / "captures" / time.strftime("%Y-%m-%d", time.localtime(T0)) / "1.png"
        assert stored.map_path is not None and stored.map_path.name == "1_map.npy"
        assert (stored.verdict, stored.reason, stored.decision) == ("FAIL", "fail", "unreviewed")
        assert stored.decided_at is None and stored.note == ""
        assert np.array_equal(load_image(stored.image_path), frame(int(T0)))  # lossless
        saved = np.load(stored.map_path, allow_pickle=False)
        assert saved.dtype == np.float16 and np.allclose(saved, heat, atol=2e-3)
        assert store.get(stored.id) == stored
        assert not any((tmp_path / "captures" / ".pending").iterdir())
        assert (tmp_path / "captures" / "captures.db").is_file()


def test_pass_sample_and_manual_good(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        sample = add(store, failed=False)
        good = store.capture_good(frame(9), source="camera-0", frame_index=7)
    assert (sample.verdict, sample.reason, sample.map_path) == ("PASS", "pass_sample", None)
    assert (good.verdict, good.reason, good.decision) == ("GOOD", "manual_good", "good")
    assert good.decided_at is not None and good.model_name == ""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"score": float("nan")}, "score must be a finite number, got nan"),
        ({"threshold": float("inf")}, "threshold must be a finite number"),
        ({"reason": "bored"}, "unknown capture reason 'bored'"),
        ({"anomaly_map": np.zeros(5)}, r"anomaly_map must be a 2-D HxW array, got shape \(5,\)"),
    ],
)
def test_record_refuses_bad_values_and_leaves_no_files(tmp_path: Path, kwargs: dict, message: str) -> None:
    with CaptureStore(tmp_path) as store:
        with pytest.raises(ValueError, match=message):
            add(store, **kwargs)
        assert store.counts()["total"] == 0
    assert sorted(p.name for p in (tmp_path / "captures").rglob("*") if p.is_file()) == ["captures.db"]


def test_failed_row_insert_removes_the_image(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path)
    store.close()
    with pytest.raises(CaptureStoreError, match="is closed"):
        add(store)
    assert [p.name for p in (tmp_path / "captures").rglob("*.png")] == []


def test_stale_pending_files_are_swept_at_open(tmp_path: Path) -> None:
    CaptureStore(tmp_path).close()
    pending = tmp_path / "captures" / ".pending"
    stale, fresh = pending / "old.png", pending / "new.png"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (time.time() - 2 * captures_files.STALE_PENDING_S,) * 2)
    CaptureStore(tmp_path).close()
    assert not stale.exists() and fresh.exists()  # a young one may be another process's capture in flight


# -- decisions -----------------------------------------------------------------------------------------------
def test_decisions_survive_a_restart(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        first, second = add(store), add(store, at=T0 + 1)
        store.decide(first.id, "defect", "scratch on the rim")
        store.decide(second.id, "false_alarm")
        decided_at = store.get(first.id).decided_at
    with CaptureStore(tmp_path) as reopened:
        again = reopened.get(first.id)
        assert (again.decision, again.note, again.decided_at) == ("defect", "scratch on the rim", decided_at)
        assert reopened.get(second.id).decision == "false_alarm"
        assert reopened.undo(second.id).decision == "unreviewed"  # the history is on disk too


def test_decide_validates_decision_and_id(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        stored = add(store)
        with pytest.raises(ValueError, match="unknown decision 'maybe'"):
            store.decide(stored.id, "maybe")
        with pytest.raises(CaptureNotFoundError, match="no capture with id 999") as caught:
            store.decide(999, "defect")
        assert isinstance(caught.value, KeyError) and isinstance(caught.value, CaptureStoreError)
        assert str(caught.value).startswith("no capture")  # not the quoted KeyError text
        with pytest.raises(KeyError):
            store.get(999)
        assert store.get(stored.id).decision == "unreviewed"


def test_decide_keeps_the_note_unless_given(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        stored = add(store)
        store.decide(stored.id, "defect", "dent")
        assert store.decide(stored.id, "false_alarm").note == "dent"
        assert store.decide(stored.id, "false_alarm", "").note == ""
        back = store.decide(stored.id, "unreviewed")
        assert back.decided_at is None


def test_undo_steps_back_through_a_records_decisions(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        one, two = add(store), add(store, at=T0 + 1)
        assert store.last_decided_id() is None
        store.decide(one.id, "defect", "dent")
        store.decide(two.id, "false_alarm", "glare")
        store.decide(one.id, "false_alarm", "no, glare too")
        assert store.last_decided_id() == one.id
        undone = store.undo(one.id)
        assert (undone.decision, undone.note) == ("defect", "dent")
        assert store.last_decided_id() == two.id
        assert store.undo(two.id).decision == "unreviewed" and store.get(two.id).decided_at is None
        assert store.last_decided_id() == one.id
        assert store.undo(one.id).decision == "unreviewed"
        assert store.last_decided_id() is None
        with pytest.raises(CaptureStoreError, match=f"capture {one.id} has no decision to undo"):
            store.undo(one.id)
        with pytest.raises(CaptureNotFoundError):
            store.undo(12345)


def test_threads_record_and_decide_together(tmp_path: Path, fast_files: None) -> None:
    with CaptureStore(tmp_path) as store, ThreadPoolExecutor(max_workers=1) as pool:
        seeded = [add(store, at=T0 + i).id for i in range(40)]
        recording = pool.submit(lambda: [add(store, at=T0 + 100 + i) for i in range(40)])  # the worker thread
        for record_id in seeded:  # the GUI thread
            store.decide(record_id, "defect")
        assert len(recording.result(timeout=60)) == 40  # re-raises anything the worker hit
        assert store.counts() == {"unreviewed": 40, "defect": 40, "false_alarm": 0, "good": 0, "total": 80}


_KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from inspector_app.core.captures import CaptureStore

    store = CaptureStore(Path(sys.argv[1]))
    for record_id in range(1, 1001):
        store.decide(record_id, ("defect", "false_alarm", "good")[record_id % 3], f"note {record_id}")
        # Printed after the commit. Padded so the pipe fills after a few lines: once the parent stops reading,
        # this process blocks, so the kill always lands mid-run, whatever the disk speed.
        print(record_id, "." * 4000, flush=True)
    """
)


@pytest.mark.skipif(sys.platform.startswith("win"), reason="SIGKILL is POSIX")
def test_killed_writer_keeps_every_committed_decision(tmp_path: Path, fast_files: None) -> None:
    with CaptureStore(tmp_path) as store:
        ids = [add(store, at=T0 + i, frame_index=i).id for i in range(1000)]
    assert ids == list(range(1, 1001))
    child = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    printed: list[int] = []
    try:
        for line in child.stdout:
            printed.append(int(line.split()[0]))
            if len(printed) == 200:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL and len(printed) == 200

    conn = sqlite3.connect(tmp_path / "captures" / "captures.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # Each decision is one transaction: a decided row has exactly one history entry, an undecided none.
        torn = conn.execute(
            "SELECT COUNT(*) FROM captures c WHERE (c.decision != 'unreviewed') != "
            "((SELECT COUNT(*) FROM decision_history h WHERE h.capture_id = c.id) = 1)"
        ).fetchone()[0]
        assert torn == 0
    finally:
        conn.close()
    with CaptureStore(tmp_path) as reopened:
        for record_id in printed:
            record = reopened.get(record_id)
            assert record.decision == ("defect", "false_alarm", "good")[record_id % 3], record
            assert record.note == f"note {record_id}"
        decided = reopened.counts()["total"] - reopened.counts()["unreviewed"]
    assert 200 <= decided < 1000  # killed mid-way, having committed at least what it printed


# -- sampling --------------------------------------------------------------------------------------------------
def test_pass_sampling_rate_is_roughly_honoured(tmp_path: Path) -> None:
    with CaptureStore(tmp_path, pass_sample_rate=0.1, seed=7) as store:
        kept = sum(store.should_keep(False) for _ in range(10_000))
        assert all(store.should_keep(True) for _ in range(100))
    assert 880 <= kept <= 1120  # 1000 expected, ±4 standard deviations
    with CaptureStore(tmp_path, pass_sample_rate=0.1, seed=7) as same_seed:
        assert sum(same_seed.should_keep(False) for _ in range(10_000)) == kept
    with CaptureStore(tmp_path, pass_sample_rate=0.0, seed=1) as never:
        assert not any(never.should_keep(False) for _ in range(1000))
    with pytest.raises(ValueError, match=r"pass_sample_rate must be between 0 and 1, got 1\.5"):
        CaptureStore(tmp_path, pass_sample_rate=1.5)


# -- queries ---------------------------------------------------------------------------------------------------
@pytest.fixture
def mixed_store(tmp_path: Path) -> CaptureStore:
    """Six captures over two model versions, two days apart in time, with a few decisions."""
    store = CaptureStore(tmp_path)
    add(store, at=T0, normalised_score=1.1)  # 1: v1 FAIL, defect
    add(store, at=T0 + 10, normalised_score=3.0)  # 2: v1 FAIL, false alarm
    add(store, at=T0 + 20, failed=False, normalised_score=0.2)  # 3: v1 PASS sample
    add(store, at=T0 + 30, model_version="v2", normalised_score=2.0)  # 4: v2 FAIL, unreviewed
    add(store, at=T0 + 40, model_version="v2", failed=False, normalised_score=0.5)  # 5: v2 PASS, defect (missed)
    add(store, at=T0 + 50, model_name="gadget", normalised_score=1.5)  # 6: gadget FAIL, defect
    store.decide(1, "defect")
    store.decide(2, "false_alarm")
    store.decide(5, "defect")
    store.decide(6, "defect")
    yield store
    store.close()


def ids(records: list[CaptureRecord]) -> list[int]:
    return [r.id for r in records]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, [6, 5, 4, 3, 2, 1]),
        ({"order": "oldest"}, [1, 2, 3, 4, 5, 6]),
        ({"order": "score"}, [2, 4, 6, 1, 5, 3]),
        ({"decisions": ["defect"]}, [6, 5, 1]),
        ({"decisions": "unreviewed"}, [4, 3]),
        ({"decisions": []}, []),
        ({"verdicts": ["FAIL"], "decisions": ["unreviewed"]}, [4]),
        ({"model_version": "v2"}, [5, 4]),
        ({"model_name": "gadget"}, [6]),
        ({"model_name": "widget", "model_version": "v1", "order": "oldest"}, [1, 2, 3]),
        ({"since": T0 + 10, "until": T0 + 40}, [4, 3, 2]),
        ({"limit": 2}, [6, 5]),
        ({"limit": 2, "offset": 2}, [4, 3]),
        ({"offset": 5}, [1]),
    ],
)
def test_query_filters_and_orders(mixed_store: CaptureStore, kwargs: dict, expected: list[int]) -> None:
    assert ids(mixed_store.query(**kwargs)) == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"order": "random"}, ValueError, "unknown order 'random'"),
        ({"decisions": ["defect", "meh"]}, ValueError, "unknown decision 'meh'"),
        ({"verdicts": ["MAYBE"]}, ValueError, "unknown verdict 'MAYBE'"),
        ({"colour": "red"}, TypeError, "colour"),
    ],
)
def test_query_refuses_unknown_values(mixed_store: CaptureStore, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        mixed_store.query(**kwargs)


def test_counts_versions_and_training_paths(mixed_store: CaptureStore) -> None:
    assert mixed_store.counts() == {"unreviewed": 2, "defect": 3, "false_alarm": 1, "good": 0, "total": 6}
    assert mixed_store.counts(model_version="v2") == {
        "unreviewed": 1, "defect": 1, "false_alarm": 0, "good": 0, "total": 2,
    }  # fmt: skip
    assert mixed_store.counts(decisions=[])["total"] == 0
    assert mixed_store.model_versions() == [("gadget", "v1"), ("widget", "v1"), ("widget", "v2")]
    good = mixed_store.capture_good(frame(3), source="camera-0", frame_index=99)
    assert mixed_store.good_image_paths() == [mixed_store.get(2).image_path, good.image_path]
    assert mixed_store.defect_image_paths() == [mixed_store.get(i).image_path for i in (1, 5, 6)]
    assert mixed_store.defect_image_paths(model_name="gadget") == [mixed_store.get(6).image_path]
    assert all(path.is_file() for path in mixed_store.good_image_paths() + mixed_store.defect_image_paths())


# -- pruning ---------------------------------------------------------------------------------------------------
def test_prune_removes_only_unreviewed_pass_samples_oldest_first(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        samples = [add(store, failed=False, at=T0 + i) for i in range(6)]
        failed = add(store, at=T0 - 100)  # oldest of all, but a FAIL: never pruned
        decided = add(store, failed=False, at=T0 - 50)
        store.decide(decided.id, "good")
        undone = add(store, failed=False, at=T0 - 40)
        store.decide(undone.id, "defect")
        manual = store.capture_good(frame(1), source="camera-0", frame_index=0)
        per_file = samples[0].image_path.stat().st_size
        assert store.prune() == 0  # the default budget is far away

        # A budget that needs two samples' worth of bytes freed: the two oldest unreviewed samples go.
        budget = store.disk_usage_mb() - 1.5 * per_file / 2**20
        assert store.prune(budget) == 2  # (the WAL grows a little with the delete: usage is not compared)
        left = set(ids(store.query()))
        assert left == {s.id for s in samples[2:]} | {failed.id, decided.id, undone.id, manual.id}
        assert not samples[0].image_path.exists() and not samples[1].image_path.exists()

        # A zero budget cannot be met: every unreviewed sample goes, nothing decided or flagged does.
        assert store.prune(0) == 4
        assert set(ids(store.query())) == {failed.id, decided.id, undone.id, manual.id}
        assert all(store.get(i).image_path.is_file() for i in (failed.id, decided.id, undone.id, manual.id))
        assert store.prune(0) == 0
        with pytest.raises(ValueError, match="budget_mb must be zero or more, got -1"):
            store.prune(-1)


def test_prune_keeps_a_sample_decided_then_reset_to_unreviewed_only_if_decided(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        sample = add(store, failed=False)
        store.decide(sample.id, "good")
        store.decide(sample.id, "unreviewed")  # explicitly set back: unreviewed again, so prunable
        assert store.prune(0) == 1
        with pytest.raises(CaptureNotFoundError):
            store.undo(sample.id)  # its history went with it


def test_record_prunes_every_few_inserts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(captures_store, "PRUNE_EVERY", 3)
    with CaptureStore(tmp_path, budget_mb=0.0) as store:
        add(store, failed=False, at=T0)
        add(store, failed=False, at=T0 + 1)
        assert store.counts()["total"] == 2
        add(store, at=T0 + 2)  # third insert: the budget check runs and drops both samples
        assert ids(store.query()) == [3]


# -- exports ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\tindent", "'\tindent"),
        ("\rreturn", "'\rreturn"),
        ("a=1", "a=1"),
        ("plain note", "plain note"),
        ("", ""),
        (" =spaced", " =spaced"),
    ],
)
def test_escape_spreadsheet_cell(text: str, expected: str) -> None:
    assert escape_spreadsheet_cell(text) == expected


def test_csv_export_escapes_formula_cells(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        evil = add(store, source='=HYPERLINK("http://evil","x")', model_name="@widget")
        store.decide(evil.id, "defect", "+cmd|' /C calc'!A0")
        add(store, at=T0 + 1, source="\t-line 3")
        plain = add(store, at=T0 + 2, score=-0.5)
        store.decide(plain.id, "false_alarm", "fine, just glare")
        out = tmp_path / "report.csv"
        assert store.export_csv(out) == 3
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["source"] for r in rows] == ['\'=HYPERLINK("http://evil","x")', "'\t-line 3", "camera-0"]
    assert rows[0]["model_name"] == "'@widget" and rows[0]["note"] == "'+cmd|' /C calc'!A0"
    assert rows[2]["note"] == "fine, just glare" and float(rows[2]["score"]) == -0.5  # numbers stay numbers
    assert rows[1]["decided_at"] == "" and rows[0]["decision"] == "defect"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]  # the temporary was renamed


def test_json_export_round_trips(mixed_store: CaptureStore, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert mixed_store.export_json(out, model_name="widget", decisions=("defect", "false_alarm")) == 3
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["filters"] == {"model_name": "widget", "decisions": ["defect", "false_alarm"]}
    expected = mixed_store.query(model_name="widget", decisions=["defect", "false_alarm"], order="oldest")
    rebuilt = [
        CaptureRecord(**{
            **{k: v for k, v in row.items() if not k.endswith("_utc")},
            "image_path": Path(row["image_path"]),
            "map_path": None if row["map_path"] is None else Path(row["map_path"]),
        })
        for row in document["records"]
    ]  # fmt: skip
    assert rebuilt == expected
    assert document["summary"] == mixed_store.summary(model_name="widget", decisions=["defect", "false_alarm"])


def test_summary_rates_per_model_version(mixed_store: CaptureStore, tmp_path: Path) -> None:
    mixed_store.capture_good(frame(1), source="camera-0", frame_index=0, model_name="widget", model_version="v2")
    more = add(mixed_store, at=T0 + 60)  # v1 FAIL decided good: a false alarm too
    mixed_store.decide(more.id, "good")
    add(mixed_store, at=T0 + 70)  # v1 FAIL, unreviewed: flagged, not reviewed
    rows = {(r["model_name"], r["model_version"]): r for r in mixed_store.summary()}
    # widget v1: 5 inspected (4 FAIL + 1 PASS), 3 of the FAIL reviewed: 1 defect, 2 false alarms.
    v1 = rows[("widget", "v1")]
    assert (v1["inspected"], v1["flagged"], v1["reviewed"], v1["defects"], v1["false_alarms"]) == (5, 4, 3, 1, 2)
    assert v1["defect_rate"] == pytest.approx(1 / 3) and v1["false_alarm_rate"] == pytest.approx(2 / 3)
    # widget v2: one FAIL unreviewed (no rates yet), one PASS sample the operator called a defect.
    v2 = rows[("widget", "v2")]
    assert (v2["inspected"], v2["flagged"], v2["reviewed"], v2["missed_defects"], v2["manual_good"]) == (2, 1, 0, 1, 1)
    assert v2["defect_rate"] is None and v2["false_alarm_rate"] is None
    gadget = rows[("gadget", "v1")]
    assert (gadget["defect_rate"], gadget["false_alarm_rate"]) == (1.0, 0.0)
    assert list(rows) == [("gadget", "v1"), ("widget", "v1"), ("widget", "v2")]

    out = tmp_path / "summary.csv"
    assert mixed_store.export_summary_csv(out) == 3
    with open(out, newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert table[2]["defect_rate"] == "" and float(table[1]["false_alarm_rate"]) == pytest.approx(2 / 3)


# -- schema ----------------------------------------------------------------------------------------------------
def test_fresh_database_has_current_schema_and_wal(tmp_path: Path) -> None:
    CaptureStore(tmp_path).close()
    conn = sqlite3.connect(tmp_path / "captures" / "captures.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
    assert DECISIONS == ("unreviewed", "defect", "false_alarm", "good")


def test_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    with CaptureStore(tmp_path) as store:
        add(store)
    db = tmp_path / "captures" / "captures.db"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(CaptureStoreError, match=rf"schema {SCHEMA_VERSION + 1}, written by a newer.*update the app"):
        CaptureStore(tmp_path)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0] == 1
    finally:
        conn.close()


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    (folder / "captures.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CaptureStoreError, match="is not a readable capture database"):
        CaptureStore(tmp_path)


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = CaptureStore(tmp_path)
    store.close()
    store.close()
    with pytest.raises(CaptureStoreError, match="closed"):
        store.counts()
