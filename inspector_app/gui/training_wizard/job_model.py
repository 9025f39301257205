"""The plain model every wizard page reads and writes: the training spec being built, then its results.

No Qt here, so the wizard's state can be built, checked and written in tests without a widget, and the pages
stay thin views over one object (as pymmcore-widgets' hardware wizard does with its shared model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector_app.core.modelstore import ModelRef
from inspector_app.gui.training_wizard.data_summary import DataSummary
from inspector_app.jobs.training_spec import TrainingSpec


@dataclass
class TrainingJob:
    """A training spec under construction plus what the training produced.

    Attributes:
        family: the detector family's kind.
        data: dataset folders (MVTec or plain layout).
        extra_good: loose good images (e.g. frames captured by the review queue).
        extra_defect: loose defect images (captures the operator confirmed as defects).
        name: the model name; versions are numbered v1, v2, ... under it.
        config: the family's settings (the parameters page fills every key).
        val_fraction: share of the training images held out for calibration.
        seed: seed of the validation split and the training.
        model: ``name@version`` once the child process has written the version.
        history: loss curves received while training (``loss``, ``val_loss``, epoch numbers).
        failure: why the last training did not produce a version ("" when it did).
        notes: free text stored with the version.
        label: a human name stored with the version (the folder stays vN).
        activate: make the version active (and switch the running window to it) on Finish.
        data_summary: what the chosen data holds (set by the data page; None until data is chosen).
    """

    family: str = "autoencoder"
    data: list[str] = field(default_factory=list)
    extra_good: list[str] = field(default_factory=list)
    extra_defect: list[str] = field(default_factory=list)
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.2
    seed: int = 0
    model: str | None = None
    history: dict[str, list[float]] = field(default_factory=dict)
    failure: str = ""
    notes: str = ""
    label: str = ""
    activate: bool = True
    data_summary: DataSummary | None = field(default=None, repr=False)

    @classmethod
    def from_spec(cls, spec: TrainingSpec | None) -> TrainingJob:
        """A job pre-filled from a spec (retraining, or a folder chosen beforehand); an empty job without one."""
        if spec is None:
            return cls()
        return cls(family=spec.family, data=list(spec.data), extra_good=list(spec.extra_good),
                   extra_defect=list(spec.extra_defect), name=spec.name, config=dict(spec.config),
                   val_fraction=spec.val_fraction, seed=spec.seed, notes=spec.notes)

    def to_spec(self) -> TrainingSpec:
        """What ``inspector-app train --spec`` runs; activation is left to the Finish page."""
        return TrainingSpec(family=self.family, data=[str(Path(d).expanduser().resolve()) for d in self.data],
                            name=self.name, config=dict(self.config), val_fraction=self.val_fraction,
                            seed=self.seed, notes=self.notes, activate=False, extra_good=list(self.extra_good),
                            extra_defect=list(self.extra_defect))

    def write_spec(self, path: Path) -> Path:
        """Write :meth:`to_spec` as JSON to ``path``."""
        return self.to_spec().write(path)

    def ref(self) -> ModelRef | None:
        """The trained version, once there is one."""
        if not self.model:
            return None
        name, _, version = self.model.partition("@")
        return ModelRef(name, version)

    def start_training(self) -> None:
        """Forget the results of an earlier attempt."""
        self.model = None
        self.failure = ""
        self.history = {"epoch": [], "loss": [], "val_loss": []}

    def record_epoch(self, event: dict[str, Any]) -> None:
        """Keep one ``train`` progress event's losses for the curves."""
        if not event.get("epoch"):
            return
        for key in ("epoch", "loss", "val_loss"):
            value = event.get(key)
            self.history.setdefault(key, []).append(float("nan") if value is None else float(value))
