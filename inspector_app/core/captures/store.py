"""Captured frames and operator decisions: the review queue's memory and the retraining material.

Every FAIL frame, a sample of PASS frames and every manual "capture as good" is kept as a lossless PNG
(plus its anomaly map, float16 ``.npy``) under ``<data dir>/captures/YYYY-MM-DD/<id>.png``, with one row in
``<data dir>/captures/captures.db`` (SQLite, WAL, versioned schema: see ``db``). Each decision is
one transaction committed with ``synchronous=FULL``: it survives a killed app and a power cut (captures
commit with NORMAL; ``db.Database.transaction`` says why). Pruning for the disk budget only ever
removes unreviewed PASS samples. Exports and summaries live in ``export``.

Threads: one SQLite connection per store, shared by the GUI thread and the inference worker
(``check_same_thread=False``) and guarded by one lock held for each statement or transaction. Image
encoding happens outside the lock, so a large PNG being written never stalls a decision. Other processes
(the retraining job) open their own store; SQLite's file locks and the busy timeout order them.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from inspector_app.core.captures import export
from inspector_app.core.errors import printable
from inspector_app.core.captures.db import (
    DECISIONS,
    ORDERS,
    CaptureNotFoundError,
    CaptureStoreError,
    Database,
    check_decision,
    check_order,
    check_reason,
    delete_oldest_pass_samples,
    pop_decision,
    push_decision,
    where_clause,
)
from inspector_app.core.captures.files import CaptureFiles

__all__ = ["CAPTURES_DIR", "DB_FILE", "CaptureRecord", "CaptureStore"]

log = logging.getLogger(__name__)

CAPTURES_DIR = "captures"
DB_FILE = "captures.db"
PRUNE_EVERY = 50  # record() checks the disk budget every this many inserts
#: How long a capture waits for another program's lock on the database: the worker must not stall a line.
CAPTURE_WAIT_S = 0.25
_COLUMNS = (
    "id, captured_at, source, frame_index, model_name, model_version, score, normalised_score, threshold, "
    "verdict, reason, image_path, map_path, decision, note, decided_at"
)


@dataclass(frozen=True)
class CaptureRecord:
    """One stored inspection. Times are unix seconds; paths are absolute."""

    id: int
    captured_at: float
    source: str
    frame_index: int
    model_name: str
    model_version: str
    score: float
    normalised_score: float
    threshold: float
    verdict: str  # "PASS", "FAIL" or "GOOD" (manual capture)
    reason: str  # "fail", "pass_sample" or "manual_good"
    image_path: Path
    map_path: Path | None
    decision: str  # one of DECISIONS
    note: str
    decided_at: float | None

    @property
    def flagged(self) -> bool:
        """The model said FAIL."""
        return self.verdict == "FAIL"

    @property
    def reviewed(self) -> bool:
        """Someone decided this record (a manual good capture counts as decided)."""
        return self.decision != "unreviewed"


def _finite(value: float, what: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        msg = f"{what} must be a finite number, got {value!r}"
        raise ValueError(msg)
    return number


def _fields(captured_at: float, source: str, frame_index: int, model: tuple[str, str], **scores: float) -> dict:
    """Checked column values shared by every kind of capture; ``scores`` must be finite numbers."""
    fields = {
        "captured_at": _finite(captured_at, "captured_at"),
        "source": printable(source),  # a file name that is not UTF-8 cannot go into SQLite text as it is
        "frame_index": int(frame_index),
        "model_name": str(model[0]),
        "model_version": str(model[1]),
    }
    fields.update({name: _finite(value, name) for name, value in scores.items()})
    return fields


def _check_budget(budget_mb: float) -> float:
    if not float(budget_mb) >= 0:
        msg = f"budget_mb must be zero or more, got {budget_mb!r}"
        raise ValueError(msg)
    return float(budget_mb)


class CaptureStore:
    """Captured images and their inspection/decision rows under ``<data_dir>/captures``; a context manager.

    Args:
        data_dir: the app's data folder (see ``paths.data_dir``).
        pass_sample_rate: probability that ``should_keep`` keeps a PASS frame, in [0, 1].
        budget_mb: disk budget for images, maps and the database; ``prune`` enforces it.
        seed: seed for the PASS sampling, for reproducible runs and tests.
    """

    def __init__(
        self, data_dir: Path, pass_sample_rate: float = 0.02, budget_mb: float = 2048.0, seed: int | None = None
    ) -> None:
        if not 0.0 <= pass_sample_rate <= 1.0:
            msg = f"pass_sample_rate must be between 0 and 1, got {pass_sample_rate!r}"
            raise ValueError(msg)
        self.pass_sample_rate = float(pass_sample_rate)
        self.budget_mb = _check_budget(budget_mb)
        self.root = Path(data_dir) / CAPTURES_DIR
        self.db_path = self.root / DB_FILE
        self._files = CaptureFiles(self.root)
        self._db = Database(self.db_path)
        self._rng = random.Random(seed)
        self._inserts = 0
        self._session: list[int] = []  # ids decided through this store, newest last, for undo
        self._files.sweep_pending()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; later calls raise CaptureStoreError. Closing twice is fine."""
        self._db.close()

    # -- writing ----------------------------------------------------------------------------------------
    def should_keep(self, failed: bool) -> bool:
        """Whether to record a frame: FAIL always, PASS with probability ``pass_sample_rate``."""
        with self._db.lock:  # random.Random is not documented as thread-safe
            return failed or self._rng.random() < self.pass_sample_rate

    def record(
        self,
        image: np.ndarray,
        *,
        source: str,
        frame_index: int,
        model_name: str,
        model_version: str,
        score: float,
        normalised_score: float,
        threshold: float,
        failed: bool,
        anomaly_map: np.ndarray | None = None,
        reason: str | None = None,
        captured_at: float | None = None,
    ) -> CaptureRecord:
        """Store one inspected RGB uint8 frame (and its map), unreviewed; returns the new record.

        The PNG and map are written first, atomically; the row follows in one transaction, and if that
        fails the files are removed. Every ``PRUNE_EVERY`` inserts the disk budget is enforced.
        """
        verdict, default_reason = ("FAIL", "fail") if failed else ("PASS", "pass_sample")
        when = time.time() if captured_at is None else captured_at
        scores = {"score": score, "normalised_score": normalised_score, "threshold": threshold}
        fields = _fields(when, source, frame_index, (model_name, model_version), **scores)
        fields.update(verdict=verdict, reason=check_reason(reason or default_reason))
        stored = self._insert(image, anomaly_map, fields)
        with self._db.lock:
            self._inserts += 1
            due = self._inserts % PRUNE_EVERY == 0
        if due:
            self.prune()
        return stored

    def capture_good(
        self,
        image: np.ndarray,
        *,
        source: str,
        frame_index: int,
        model_name: str = "",
        model_version: str = "",
        score: float = 0.0,
        normalised_score: float = 0.0,
        threshold: float = 0.0,
    ) -> CaptureRecord:
        """Store a frame the operator captured as good: verdict GOOD, reason and decision ``good`` at once."""
        now = time.time()
        scores = {"score": score, "normalised_score": normalised_score, "threshold": threshold}
        fields = _fields(now, source, frame_index, (model_name, model_version), **scores)
        fields.update(verdict="GOOD", reason="manual_good", decision="good", decided_at=now)
        return self._insert(image, None, fields)

    def _insert(self, image: np.ndarray, anomaly_map: np.ndarray | None, fields: dict[str, Any]) -> CaptureRecord:
        try:
            pending = self._files.write_pending(image, anomaly_map)  # the slow part, outside the lock
        except OSError as exc:  # a full disk, a read-only or unplugged drive: say so, the caller carries on
            msg = f"cannot store the capture in {self.root}: {exc.strerror or exc}"
            raise CaptureStoreError(msg) from exc
        placed: list[Path] = []
        try:
            fields["bytes"] = sum(path.stat().st_size for path in pending)
            day = self._files.day_folder(fields["captured_at"])
            with self._db.transaction(durable=False, wait_s=CAPTURE_WAIT_S) as conn:
                columns, marks = ", ".join(fields), ", ".join("?" * len(fields))
                cursor = conn.execute(
                    f"INSERT INTO captures ({columns}, image_path) VALUES ({marks}, '')", tuple(fields.values())
                )
                record_id = int(cursor.lastrowid or 0)
                names = self._files.names_for(day, record_id, len(pending))
                conn.execute(
                    "UPDATE captures SET image_path = ?, map_path = ? WHERE id = ?",
                    (names[0], names[1] if len(names) > 1 else None, record_id),
                )
                # Killed after these renames but before COMMIT, the files belong to no row; SQLite then gives
                # the same id to the next capture, whose files replace them.
                self._files.place(pending, names, placed)
        except OSError as exc:
            self._files.discard(pending + placed)
            msg = f"cannot store the capture in {self.root}: {exc.strerror or exc}"
            raise CaptureStoreError(msg) from exc
        except BaseException:
            self._files.discard(pending + placed)
            raise
        log.debug("captured %s frame %s as %s", fields["source"], fields["frame_index"], names[0])
        return self.get(record_id)

    def decide(self, record_id: int, decision: str, note: str | None = None) -> CaptureRecord:
        """Set a record's decision (and note; ``None`` keeps the current one) in one committed transaction.

        The previous decision goes to the history that ``undo`` reads. Raises ValueError for an unknown
        decision and CaptureNotFoundError (a KeyError too) for a missing id.
        """
        check_decision(decision)
        with self._db.transaction(durable=True) as conn:
            if not push_decision(conn, record_id, decision, None if note is None else str(note), time.time()):
                raise self._not_found(record_id)
        with self._db.lock:
            self._session.append(record_id)
        return self.get(record_id)

    def undo(self, record_id: int) -> CaptureRecord:
        """Restore the decision, note and time ``record_id`` had before its last ``decide``; returns it."""
        with self._db.transaction(durable=True) as conn:
            undone = pop_decision(conn, record_id)
            if undone is None:
                raise self._not_found(record_id)
            if not undone:
                msg = f"capture {record_id} has no decision to undo"
                raise CaptureStoreError(msg)
        with self._db.lock:
            if record_id in self._session:  # forget its newest occurrence
                del self._session[len(self._session) - 1 - self._session[::-1].index(record_id)]
        return self.get(record_id)

    def last_decided_id(self) -> int | None:
        """The record this store decided most recently and has not undone (for the review panel's U)."""
        with self._db.lock:
            return self._session[-1] if self._session else None

    def _not_found(self, record_id: object) -> CaptureNotFoundError:
        return CaptureNotFoundError(f"no capture with id {record_id!r} in {self.db_path}")

    # -- reading ----------------------------------------------------------------------------------------
    def _to_record(self, row: tuple[Any, ...]) -> CaptureRecord:
        values = list(row)
        values[11] = self.root / values[11]
        values[12] = None if values[12] is None else self.root / values[12]
        return CaptureRecord(*values)

    def get(self, record_id: int) -> CaptureRecord:
        """The record with this id, or CaptureNotFoundError."""
        rows = self._db.read(f"SELECT {_COLUMNS} FROM captures WHERE id = ?", (record_id,))
        if not rows:
            raise self._not_found(record_id)
        return self._to_record(rows[0])

    def query(
        self, *, order: str = "newest", limit: int | None = None, offset: int = 0, **filters: Any
    ) -> list[CaptureRecord]:
        """Matching records sorted by ``order``: "newest", "oldest" or "score" (highest normalised first).

        Filters, all optional: ``decisions``, ``verdicts``, ``model_name``, ``model_version``, ``since``
        (inclusive) and ``until`` (exclusive) unix times; see ``db.where_clause``.
        """
        where, params = where_clause(**filters)
        sql = f"SELECT {_COLUMNS} FROM captures{where} ORDER BY {ORDERS[check_order(order)]} LIMIT ? OFFSET ?"
        rows = self._db.read(sql, (*params, -1 if limit is None else int(limit), int(offset)))
        return [self._to_record(row) for row in rows]

    def counts(self, **filters: Any) -> dict[str, int]:
        """Matching records per decision (every decision present) plus ``"total"``; filters as ``query``."""
        where, params = where_clause(**filters)
        result = dict.fromkeys(DECISIONS, 0)
        sql = f"SELECT decision, COUNT(*) FROM captures{where} GROUP BY decision"
        for decision, count in self._db.read(sql, params):
            result[decision] = count
        result["total"] = sum(result.values())
        return result

    def model_versions(self) -> list[tuple[str, str]]:
        """Every (model name, model version) that has records, sorted."""
        rows = self._db.read("SELECT DISTINCT model_name, model_version FROM captures ORDER BY 1, 2")
        return [(name, version) for name, version in rows]

    def good_image_paths(self, **filters: Any) -> list[Path]:
        """Images decided ``good`` or ``false_alarm``, oldest first: good material for retraining."""
        return [r.image_path for r in self.query(decisions=("good", "false_alarm"), order="oldest", **filters)]

    def defect_image_paths(self, **filters: Any) -> list[Path]:
        """Images decided ``defect``, oldest first."""
        return [r.image_path for r in self.query(decisions=("defect",), order="oldest", **filters)]

    def disk_usage_mb(self) -> float:
        """Megabytes (2**20 bytes) used by the stored images and maps plus the database files."""
        stored = self._db.read("SELECT COALESCE(SUM(bytes), 0) FROM captures")[0][0]
        for suffix in ("", "-wal", "-shm"):
            path = self.db_path.with_name(self.db_path.name + suffix)
            stored += path.stat().st_size if path.exists() else 0
        return stored / 2**20

    # -- pruning ----------------------------------------------------------------------------------------
    def prune(self, budget_mb: float | None = None) -> int:
        """Bring disk use under the budget by deleting unreviewed PASS samples, oldest capture first.

        Only records with reason ``pass_sample`` and decision ``unreviewed`` are ever removed (row first,
        then files). FAIL frames, manual good captures and anything decided are never pruned, even when
        the store stays over budget; a warning says so. Returns the number of records removed.
        """
        budget = self.budget_mb if budget_mb is None else _check_budget(budget_mb)
        excess = (self.disk_usage_mb() - budget) * 2**20
        if excess <= 0:
            return 0
        with self._db.transaction(durable=True) as conn:  # files go next: their rows must be gone for good
            names, removed, freed = delete_oldest_pass_samples(conn, excess)
        self._files.remove(names)
        if freed < excess:
            log.warning(
                "captures use %.1f MB, over the %.1f MB budget, and only FAIL, manual or decided records are "
                "left, which are never pruned: review and export them, or raise the budget",
                self.disk_usage_mb(),
                budget,
            )
        if removed:
            log.info("pruned %d unreviewed PASS samples to stay under %.1f MB", removed, budget)
        return removed

    # -- reports ----------------------------------------------------------------------------------------
    def _export_records(self, filters: dict[str, Any]) -> tuple[list[CaptureRecord], dict[str, Any]]:
        used = {k: list(v) if k in ("decisions", "verdicts") and v is not None else v for k, v in filters.items()}
        return self.query(order="oldest", **used), used

    def export_csv(self, path: Path, **filters: Any) -> int:
        """Write matching records, oldest first, as spreadsheet-safe CSV (atomically); returns the row count."""
        return export.export_csv(Path(path), self._export_records(filters)[0])

    def export_summary_csv(self, path: Path, **filters: Any) -> int:
        """Write ``summary(**filters)`` as CSV (atomically); returns the number of rows."""
        return export.export_summary_csv(Path(path), self._export_records(filters)[0])

    def export_json(self, path: Path, **filters: Any) -> int:
        """Write matching records, the filters used and their summary as JSON (atomically); returns the count."""
        return export.export_json(Path(path), *self._export_records(filters))

    def summary(self, **filters: Any) -> list[dict[str, Any]]:
        """Per (model name, version) counts and rates of matching records; see ``export.summarise``."""
        return export.summarise(self._export_records(filters)[0])
