"""The SQLite side of the capture store: connection settings, the versioned schema and query filters.

Kept apart from ``store.py`` so the store reads as "files + rows" while the database rules (durability,
migrations, parameterised filters) live in one place that can be checked on its own.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inspector_app.core.errors import InspectorError

log = logging.getLogger(__name__)

DECISIONS = ("unreviewed", "defect", "false_alarm", "good")
VERDICTS = ("PASS", "FAIL", "GOOD")
REASONS = ("fail", "pass_sample", "manual_good")
ORDERS = {
    "newest": "captured_at DESC, id DESC",
    "oldest": "captured_at ASC, id ASC",
    "score": "normalised_score DESC, id DESC",
}

#: Stored in ``PRAGMA user_version``. Bump it and append to ``MIGRATIONS`` when the schema changes.
SCHEMA_VERSION = 1


class CaptureStoreError(InspectorError):
    """The capture database is unreadable, from a newer app, or a record is missing or cannot change."""


class CaptureStoreBusy(CaptureStoreError):
    """Another program held the database locked for longer than the bounded wait; trying again later may work."""


class CaptureNotFoundError(CaptureStoreError, KeyError):
    """No capture has the id asked for; also a ``KeyError`` so mapping-style callers can catch it."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


def _check_in(value: str, allowed: Iterable[str], what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        msg = f"unknown {what} {value!r}: expected one of {', '.join(allowed)}"
        raise ValueError(msg)
    return value


def check_decision(value: str) -> str:
    """``value`` if it is one of ``DECISIONS``, else a ValueError that names it."""
    return _check_in(value, DECISIONS, "decision")


def check_reason(value: str) -> str:
    """``value`` if it is one of ``REASONS``, else a ValueError that names it."""
    return _check_in(value, REASONS, "capture reason")


def check_order(value: str) -> str:
    """``value`` if it is a known sort order (a key of ``ORDERS``), else a ValueError that names it."""
    return _check_in(value, ORDERS, "order")


# MIGRATIONS[i] brings a database from user_version i to i + 1. Statements run one by one inside a single
# transaction (executescript would commit on its own), so a failed migration leaves the old schema intact.
# They are literal SQL on purpose: a released migration must never change when a constant above does.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE captures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            captured_at REAL NOT NULL,
            source TEXT NOT NULL,
            frame_index INTEGER NOT NULL,
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            score REAL NOT NULL,
            normalised_score REAL NOT NULL,
            threshold REAL NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('PASS', 'FAIL', 'GOOD')),
            reason TEXT NOT NULL CHECK (reason IN ('fail', 'pass_sample', 'manual_good')),
            image_path TEXT NOT NULL,
            map_path TEXT,
            bytes INTEGER NOT NULL DEFAULT 0,
            decision TEXT NOT NULL DEFAULT 'unreviewed'
                CHECK (decision IN ('unreviewed', 'defect', 'false_alarm', 'good')),
            note TEXT NOT NULL DEFAULT '',
            decided_at REAL
        )
        """,
        "CREATE INDEX captures_by_time ON captures (captured_at)",
        "CREATE INDEX captures_by_decision ON captures (decision, reason, captured_at)",
        "CREATE INDEX captures_by_model ON captures (model_name, model_version)",
        """
        CREATE TABLE decision_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            capture_id INTEGER NOT NULL REFERENCES captures (id) ON DELETE CASCADE,
            previous_decision TEXT NOT NULL,
            previous_note TEXT NOT NULL,
            previous_decided_at REAL,
            changed_at REAL NOT NULL
        )
        """,
        "CREATE INDEX history_by_capture ON decision_history (capture_id, id)",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION, "every schema version needs its migration"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the capture database at ``path``.

    The connection may be used from several threads (``check_same_thread=False``): ``Database`` serialises
    every statement with its lock. Transactions are explicit (``isolation_level=None``).
    """
    try:
        conn = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        msg = f"cannot open capture database {path}: {exc}"
        raise CaptureStoreError(msg) from None
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # Database.transaction picks the level per transaction
        conn.execute("PRAGMA journal_size_limit=16777216")  # a WAL grown by a big prune shrinks back to 16 MB
        conn.execute("PRAGMA foreign_keys=ON")
        _migrate(conn, path)
    except sqlite3.OperationalError as exc:  # locked for longer than the timeout, read-only folder, ...
        conn.close()
        msg = f"cannot use capture database {path}: {exc}"
        raise CaptureStoreError(msg) from None
    except sqlite3.DatabaseError as exc:  # "file is not a database" and other corruption
        conn.close()
        msg = f"{path} is not a readable capture database: {exc}"
        raise CaptureStoreError(msg) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the pending migrations in one transaction, or refuse a database from a newer app."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            msg = (
                f"capture database {path} has schema {found}, written by a newer inspector-app; this version "
                f"reads schema {SCHEMA_VERSION} or older: update the app (the database was left untouched)"
            )
            raise CaptureStoreError(msg)
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            log.info("capture database %s migrated to schema %d", path, version + 1)
        if found != SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")  # PRAGMA takes no parameters
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def where_clause(
    *,
    decisions: Iterable[str] | None = None,
    model_version: str | None = None,
    model_name: str | None = None,
    since: float | None = None,
    until: float | None = None,
    verdicts: Iterable[str] | None = None,
) -> tuple[str, list[Any]]:
    """SQL ``WHERE`` text with ``?`` placeholders and its parameters, for the store's shared filters.

    Args:
        decisions: keep records whose decision is one of these (an empty list keeps nothing).
        model_version: keep records scored by this model version.
        model_name: keep records scored by this model.
        since: keep records captured at or after this unix time.
        until: keep records captured before this unix time.
        verdicts: keep records whose verdict is one of these ("PASS", "FAIL", "GOOD").
    """
    parts: list[str] = []
    params: list[Any] = []
    for column, given, allowed in (("decision", decisions, DECISIONS), ("verdict", verdicts, VERDICTS)):
        if given is None:
            continue
        values = [_check_in(v, allowed, column) for v in ([given] if isinstance(given, str) else given)]
        parts.append(f"{column} IN ({', '.join('?' * len(values))})" if values else "0")
        params.extend(values)
    for column, op, value in (
        ("model_name", "=", model_name),
        ("model_version", "=", model_version),
        ("captured_at", ">=", since),
        ("captured_at", "<", until),
    ):
        if value is not None:
            parts.append(f"{column} {op} ?")
            params.append(value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def push_decision(conn: sqlite3.Connection, record_id: int, decision: str, note: str | None, now: float) -> bool:
    """Set a decision (``note=None`` keeps the note), saving the previous one; False if there is no such id."""
    row = conn.execute("SELECT decision, note, decided_at FROM captures WHERE id = ?", (record_id,)).fetchone()
    if row is None:
        return False
    conn.execute(
        "INSERT INTO decision_history (capture_id, previous_decision, previous_note, previous_decided_at, "
        "changed_at) VALUES (?, ?, ?, ?, ?)",
        (record_id, *row, now),
    )
    conn.execute(
        "UPDATE captures SET decision = ?, note = ?, decided_at = ? WHERE id = ?",
        (decision, row[1] if note is None else note, None if decision == "unreviewed" else now, record_id),
    )
    return True


def pop_decision(conn: sqlite3.Connection, record_id: int) -> bool | None:
    """Restore the decision saved by the last ``push_decision``: True if done, False if none, None if no id."""
    row = conn.execute(
        "SELECT id, previous_decision, previous_note, previous_decided_at FROM decision_history "
        "WHERE capture_id = ? ORDER BY id DESC LIMIT 1",
        (record_id,),
    ).fetchone()
    if row is None:
        return None if conn.execute("SELECT 1 FROM captures WHERE id = ?", (record_id,)).fetchone() is None else False
    conn.execute("UPDATE captures SET decision = ?, note = ?, decided_at = ? WHERE id = ?", (*row[1:], record_id))
    conn.execute("DELETE FROM decision_history WHERE id = ?", (row[0],))
    return True


def delete_oldest_pass_samples(conn: sqlite3.Connection, excess_bytes: float) -> tuple[list[str], int, int]:
    """Delete the oldest unreviewed PASS samples until ``excess_bytes`` are freed, inside the caller's transaction.

    Nothing else qualifies: FAIL frames, manual captures and decided records are never selected.

    Returns:
        The relative file names of the deleted rows, how many rows were deleted and the bytes they held.
    """
    doomed: list[tuple[int, str, str | None]] = []
    freed = 0
    cursor = conn.execute(
        "SELECT id, image_path, map_path, bytes FROM captures "
        "WHERE reason = 'pass_sample' AND decision = 'unreviewed' ORDER BY captured_at, id"
    )
    for row in cursor:
        if freed >= excess_bytes:
            break
        doomed.append(row[:3])
        freed += row[3]
    cursor.close()
    for start in range(0, len(doomed), 500):
        ids = [item[0] for item in doomed[start : start + 500]]
        conn.execute(
            f"DELETE FROM captures WHERE id IN ({', '.join('?' * len(ids))}) "
            "AND reason = 'pass_sample' AND decision = 'unreviewed'",
            ids,
        )
    names = [name for _, image, map_name in doomed for name in (image, map_name) if name]
    return names, len(doomed), freed


class Database:
    """One shared connection to a capture database, one lock held around every statement or transaction.

    Thread-safe: the GUI thread (decisions) and the inference worker (captures) share it. Other processes
    open their own; SQLite's file locks and a short busy wait order their writes: a program that keeps the
    database locked makes a write fail with ``CaptureStoreBusy`` after ``wait_s`` instead of stalling the
    worker (or the window) for long.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(path)

    def close(self) -> None:
        """Close the connection; later use raises CaptureStoreError. Closing twice is fine."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            msg = f"capture database {self.path} is closed"
            raise CaptureStoreError(msg)
        return self._conn

    @contextmanager
    def transaction(self, *, durable: bool, wait_s: float = 2.0) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT) under the lock, rolled back on any error.

        Args:
            durable: commit with ``synchronous=FULL`` (survives a power cut) rather than ``NORMAL``.
            wait_s: how long to wait for another process's lock before giving up with ``CaptureStoreBusy``.

        In WAL mode both levels survive a killed or crashed process: COMMIT returns only after the
        transaction is in the WAL file, which the OS keeps whatever happens to the process. They differ
        on a power cut or OS crash: FULL fsyncs the WAL at every commit, NORMAL only at checkpoints, so
        the last NORMAL commits can be lost. Decisions are an operator's work at human pace: durable, one
        fsync each (which also makes every earlier commit durable). Captures are frequent and their files
        are already fsynced before their row, so losing the newest rows to a power cut only orphans a
        file: NORMAL.
        """
        with self.lock:
            conn = self._connection()
            try:
                conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")  # a constant, no input
                conn.execute(f"PRAGMA busy_timeout={int(wait_s * 1000):d}")  # a number, no input
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:  # also after a failed COMMIT, which leaves the transaction open
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    msg = f"capture database {self.path} is locked by another program (waited {wait_s:g} s)"
                    raise CaptureStoreBusy(msg) from exc
                msg = f"capture database {self.path}: {exc}"
                raise CaptureStoreError(msg) from exc
            except sqlite3.Error as exc:
                msg = f"capture database {self.path}: {exc}"
                raise CaptureStoreError(msg) from exc

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of one parameterised query."""
        with self.lock:
            try:
                return self._connection().execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                msg = f"capture database {self.path}: {exc}"
                raise CaptureStoreError(msg) from exc
