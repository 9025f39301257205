"""What to train, in one shape: the CLI's options, the wizard's pages and retraining all build a
:class:`TrainingSpec`, and ``inspector-app train --spec FILE`` reads its JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from inspector_app.core.calibration import DEFAULT_CATCH_SHARE, DEFAULT_FALSE_ALARM_RATE
from inspector_app.core.errors import InspectorError


@dataclass
class TrainingSpec:
    """One training run's inputs.

    ``extra_good`` and ``extra_defect`` are loose image files added to the datasets' training images: the
    review queue's captures decided good (or false alarm) and confirmed defects.
    """

    family: str
    data: list[str]
    name: str
    config: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.2
    seed: int = 0
    version: str | None = None
    notes: str = ""
    activate: bool = False
    extra_good: list[str] = field(default_factory=list)
    extra_defect: list[str] = field(default_factory=list)
    #: What the stored threshold is for: "false_alarm_rate", "best_f1", "catch", or "" for the family's default
    #: (best F1 for families that learn from defects, else the false-alarm rate).
    threshold_objective: str = ""
    target_false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE
    catch_share: float = DEFAULT_CATCH_SHARE
    #: Families that learn from defects also hold out this share of every dataset, never trained on, for
    #: ``evaluate`` (see ``jobs.training.split_for``); families that learn from good images ignore it.
    test_fraction: float = 0.2

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingSpec:
        """Read a spec; an unknown key is an error (a typo must not silently train something else)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InspectorError(f"unknown training spec key(s) {unknown}; known: {sorted(known)}")
        if not data.get("data"):
            raise InspectorError("the training spec names no data folder")
        folders = [str(d) for d in data["data"]]
        return cls(
            family=str(data.get("family") or "autoencoder"),
            data=folders,
            name=str(data.get("name") or Path(folders[0]).resolve().name),
            config=dict(data.get("config") or {}),
            val_fraction=float(data.get("val_fraction", 0.2)),
            test_fraction=float(data.get("test_fraction", 0.2)),
            seed=int(data.get("seed", 0)),
            version=data.get("version"),
            notes=str(data.get("notes", "")),
            activate=bool(data.get("activate", False)),
            extra_good=[str(p) for p in data.get("extra_good") or []],
            extra_defect=[str(p) for p in data.get("extra_defect") or []],
            threshold_objective=str(data.get("threshold_objective") or ""),
            target_false_alarm_rate=float(data.get("target_false_alarm_rate", DEFAULT_FALSE_ALARM_RATE)),
            catch_share=float(data.get("catch_share", DEFAULT_CATCH_SHARE)),
        )

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> TrainingSpec:
        try:
            return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise InspectorError(f"cannot read the training spec {path}: {exc}") from None
