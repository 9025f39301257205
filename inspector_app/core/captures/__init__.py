"""Captured frames and operator decisions: ``store`` (the ``CaptureStore``), ``db`` (SQLite schema and
filters), ``files`` (images and maps on disk) and ``export`` (CSV/JSON reports and summaries)."""

from inspector_app.core.captures.db import (
    DECISIONS,
    ORDERS,
    SCHEMA_VERSION,
    CaptureNotFoundError,
    CaptureStoreBusy,
    CaptureStoreError,
)
from inspector_app.core.captures.export import escape_spreadsheet_cell
from inspector_app.core.captures.store import CAPTURES_DIR, DB_FILE, CaptureRecord, CaptureStore

__all__ = [
    "CAPTURES_DIR",
    "DB_FILE",
    "DECISIONS",
    "ORDERS",
    "SCHEMA_VERSION",
    "CaptureNotFoundError",
    "CaptureRecord",
    "CaptureStore",
    "CaptureStoreBusy",
    "CaptureStoreError",
    "escape_spreadsheet_cell",
]
