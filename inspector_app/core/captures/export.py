"""Inspections and operator decisions as CSV and JSON files for quality reports, plus per-model summaries.

CSV files end up in spreadsheets, so every text cell that a spreadsheet could read as a formula is
escaped (OWASP "CSV injection"). Files are written beside their target and renamed over it, so a report
is never half-written. Everything here works on ``CaptureRecord`` lists and knows nothing of SQLite.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from inspector_app.core.atomic_files import write_text_atomic

if TYPE_CHECKING:
    from inspector_app.core.captures.store import CaptureRecord

#: Leading characters that make a spreadsheet treat a cell as a formula (OWASP CSV-injection list).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_FORMAT = 1
RECORD_FIELDS = (
    "id",
    "captured_at",
    "captured_at_utc",
    "source",
    "frame_index",
    "model_name",
    "model_version",
    "score",
    "normalised_score",
    "threshold",
    "verdict",
    "reason",
    "decision",
    "note",
    "decided_at",
    "decided_at_utc",
    "image_path",
    "map_path",
)
SUMMARY_FIELDS = (
    "model_name",
    "model_version",
    "inspected",
    "flagged",
    "reviewed",
    "defects",
    "false_alarms",
    "missed_defects",
    "manual_good",
    "defect_rate",
    "false_alarm_rate",
)


def escape_spreadsheet_cell(value: str) -> str:
    r"""``value`` with a leading ``'`` when it starts with ``= + - @``, tab or carriage return.

    The apostrophe makes Excel, LibreOffice and Google Sheets show the text as typed instead of running it.

    Example:
        >>> escape_spreadsheet_cell("=SUM(A1:A9)")
        "'=SUM(A1:A9)"
    """
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _iso(when: float | None) -> str | None:
    return None if when is None else datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")


def record_row(record: CaptureRecord) -> dict[str, Any]:
    """One record as plain JSON-ready values (unix times kept exact, ISO times added for people)."""
    return {
        "id": record.id,
        "captured_at": record.captured_at,
        "captured_at_utc": _iso(record.captured_at),
        "source": record.source,
        "frame_index": record.frame_index,
        "model_name": record.model_name,
        "model_version": record.model_version,
        "score": record.score,
        "normalised_score": record.normalised_score,
        "threshold": record.threshold,
        "verdict": record.verdict,
        "reason": record.reason,
        "decision": record.decision,
        "note": record.note,
        "decided_at": record.decided_at,
        "decided_at_utc": _iso(record.decided_at),
        "image_path": str(record.image_path),
        "map_path": None if record.map_path is None else str(record.map_path),
    }


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarise(records: Iterable[CaptureRecord]) -> list[dict[str, Any]]:
    """Per (model name, model version) counts and rates, sorted by name then version.

    ``inspected`` counts stored model inspections (PASS frames are only sampled, so it is not the line's
    throughput); ``flagged`` the FAIL verdicts; ``reviewed`` the flagged ones with a decision. Among those,
    ``defects`` were confirmed and ``false_alarms`` were rejected (decision ``false_alarm``, or ``good``,
    which for a FAIL frame means the same). ``defect_rate`` and ``false_alarm_rate`` divide by
    ``reviewed`` and are ``None`` before anything is reviewed. ``missed_defects`` are PASS samples the
    operator marked as defects; ``manual_good`` the frames captured as good by hand.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (record.model_name, record.model_version)
        row = groups.setdefault(key, dict.fromkeys(SUMMARY_FIELDS[2:9], 0))
        if record.reason == "manual_good":
            row["manual_good"] += 1
            continue
        row["inspected"] += 1
        if not record.flagged:
            row["missed_defects"] += record.decision == "defect"
            continue
        row["flagged"] += 1
        row["reviewed"] += record.decision != "unreviewed"
        row["defects"] += record.decision == "defect"
        row["false_alarms"] += record.decision in ("false_alarm", "good")
    result = []
    for (name, version), row in sorted(groups.items()):
        rates = {
            "defect_rate": _rate(row["defects"], row["reviewed"]),
            "false_alarm_rate": _rate(row["false_alarms"], row["reviewed"]),
        }
        result.append({"model_name": name, "model_version": version, **row, **rates})
    return result


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    return escape_spreadsheet_cell(value) if isinstance(value, str) else value


def _write_csv(path: Path, fields: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    def write(handle: IO[str]) -> None:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL)  # OWASP: quote every cell as well as escaping
        writer.writerow(fields)
        for row in rows:
            writer.writerow([_csv_cell(row[field]) for field in fields])

    write_text_atomic(path, write, newline="")  # the csv module writes its own \r\n line ends


def export_csv(path: Path, records: list[CaptureRecord]) -> int:
    """Write one CSV row per record (text cells escaped for spreadsheets); returns the number of rows."""
    _write_csv(path, RECORD_FIELDS, [record_row(r) for r in records])
    return len(records)


def export_summary_csv(path: Path, records: list[CaptureRecord]) -> int:
    """Write ``summarise(records)`` as CSV (rates left empty when nothing was reviewed); returns its rows."""
    rows = summarise(records)
    _write_csv(path, SUMMARY_FIELDS, rows)
    return len(rows)


def export_json(path: Path, records: list[CaptureRecord], filters: dict[str, Any]) -> int:
    """Write ``{"format", "exported_at", "filters", "summary", "records"}`` as JSON; returns the record count."""
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "filters": {key: list(value) if isinstance(value, (set, tuple)) else value for key, value in filters.items()},
        "summary": summarise(records),
        "records": [record_row(r) for r in records],
    }

    def write(handle: IO[str]) -> None:
        json.dump(document, handle, indent=2, ensure_ascii=False, allow_nan=False)
        handle.write("\n")

    write_text_atomic(path, write)
    return len(records)
