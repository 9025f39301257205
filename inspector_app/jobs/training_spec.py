"""What to train, in one shape: the CLI's options, the wizard's pages and retraining all build a
:class:`TrainingSpec`, and ``inspector-app train --spec FILE`` reads its JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from inspector_app.core.calibration import DEFAULT_CATCH_SHARE, DEFAULT_FALSE_ALARM_RATE
from inspector_app.core.errors import InspectorError


#: Settings that mean a count or a size in every family that has them: 0 or less would train nothing.
_POSITIVE_WHOLE = ("epochs", "batch_size", "image_size")


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

    def check(self) -> None:
        """Refuse settings that would train for nothing or calibrate on nothing, before any data is loaded."""
        for key in _POSITIVE_WHOLE:
            value = self.config.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InspectorError(f"{key} must be a whole number of at least 1, got {value!r}")
        fraction = self.val_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
            raise InspectorError(
                f"val_fraction must be between 0 and 1 (exclusive), got {fraction!r}: the threshold is calibrated on "
                "the held-out good images, so with none it would rest on a single image")
        for name, value in (("target_false_alarm_rate", self.target_false_alarm_rate), ("catch_share", self.catch_share)):
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1):
                raise InspectorError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingSpec:
        """Read a spec; an unknown key is an error (a typo must not silently train something else)."""
        if not isinstance(data, dict):
            raise InspectorError(f"a training spec is a JSON object of settings, not a {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InspectorError(f"unknown training spec key(s) {unknown}; known: {sorted(known)}")
        if not data.get("data"):
            raise InspectorError("the training spec names no data folder")
        if not isinstance(data["data"], list) or not isinstance(data.get("config") or {}, dict):
            raise InspectorError("the training spec's data must be a list of folders and its config an object")
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
        except (OSError, ValueError, TypeError) as exc:
            raise InspectorError(f"cannot read the training spec {path}: {exc}") from None
