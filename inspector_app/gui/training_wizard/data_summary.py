"""What the chosen data holds, in the terms the wizard shows: counts, warnings, kinds and the calibration split.

Computed once per change of folder or split and shared by the family, data and parameters pages (whether the
data allows a family, which images the strip shows, how many images an epoch goes through). No Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from inspector_app.core.datasets import (
    MIN_GOOD_IMAGES,
    Dataset,
    Sample,
    labelled_calibration_share,
    open_dataset,
    split_three_ways,
    split_validation,
    spread_evenly,
    typical_defect_side,
    typical_size,
)
from inspector_app.core.errors import InspectorError
from inspector_app.detectors.base import DEFECT, GOOD, MASK

NEEDS_TEXT = {
    frozenset({GOOD}): "good images only",
    frozenset({GOOD, DEFECT}): "good and defect images",
    frozenset({GOOD, DEFECT, MASK}): "good and defect images with masks",
}


#: Where each kind of data goes, for a message that says how to add what is missing.
WHERE = {
    GOOD: "good images: good/ (plain layout) or train/good/ (MVTec layout)",
    DEFECT: "defect images: defect/ or defect/<type>/ (plain layout), or test/<type>/ (MVTec layout)",
    MASK: "a mask per defect image: masks/<stem>.png (plain layout) or ground_truth/<type>/<stem>_mask.png (MVTec)",
}


def needs_text(needs: frozenset[str] | set[str]) -> str:
    """'good images only', 'good and defect images' or 'good and defect images with masks'."""
    return NEEDS_TEXT.get(frozenset(needs), " + ".join(sorted(needs)))


def missing_text(missing: set[str]) -> str:
    """What to add to the dataset folder for the kinds in ``missing``, one clause per kind."""
    return "; ".join(WHERE.get(kind, kind) for kind in (GOOD, DEFECT, MASK) if kind in missing)


@dataclass
class SupervisedCounts:
    """The seeded train / validation / test split of every labelled image, as families that learn from
    defects make it (``jobs.training.split_for``)."""

    train_good: int = 0
    train_defect: int = 0
    val_good: int = 0
    val_defect: int = 0
    test_good: int = 0
    test_defect: int = 0


@dataclass
class DataSummary:
    """Counts, warnings and the validation split of the data a job would train on."""

    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""
    kinds: set[str] = field(default_factory=set)
    train_good: int = 0
    train_defect: int = 0
    val_good: int = 0
    val_defect: int = 0
    examples: list[Sample] = field(default_factory=list)
    #: Median (width, height) of the good images, from their headers; None when unknown.
    image_size: tuple[int, int] | None = None
    #: Kinds among every labelled image (MVTec ``test/`` included), which families that learn from defects use.
    labelled_kinds: set[str] = field(default_factory=set)
    supervised: SupervisedCounts = field(default_factory=SupervisedCounts)
    #: Labelled test images (MVTec ``test/`` with defects) a family that learns from good images calibrates on,
    #: and how many stay for evaluate (``jobs.training.split_for``).
    calibration_good: int = 0
    calibration_defect: int = 0
    kept_for_evaluate: int = 0
    #: How wide the labelled defects are (a share of the image; ``core.datasets.typical_defect_side``) among
    #: those a good-only family calibrates on, and those a family that learns from defects trains on.
    calibration_defect_side: float | None = None
    supervised_defect_side: float | None = None

    def defect_side(self, uses_defects: bool) -> float | None:
        """The typical defect width the family's run will see, for its tiling proposal."""
        return self.supervised_defect_side if uses_defects else self.calibration_defect_side

    @property
    def usable(self) -> bool:
        """True when training can start at all: the data opened and has good images to hold out."""
        return not self.error and self.train_good >= 1 and self.val_good >= 1

    def missing_for(self, needs: frozenset[str] | set[str]) -> set[str]:
        """Kinds of data a family needs that this data lacks."""
        return set(needs) - (self.labelled_kinds if DEFECT in needs else self.kinds)

    def training_images(self, uses_defects: bool) -> int:
        """How many images one epoch of the family goes through."""
        if uses_defects:
            return self.supervised.train_good + self.supervised.train_defect
        return self.train_good

    def split_text(self, uses_defects: bool = False) -> str:
        """One line on what is held out for calibration (and testing) and what is left to learn from."""
        if uses_defects:
            c = self.supervised
            return (f"{c.train_good} good and {c.train_defect} defect image(s) are trained on; {c.val_good} good and "
                    f"{c.val_defect} defect are held out for validation and calibration; {c.test_good} good and "
                    f"{c.test_defect} defect are never trained on and kept for evaluate (a seeded split of every "
                    "labelled image, per defect type).")
        defects = f" and {self.val_defect} defect" if self.val_defect else ""
        held = f"{self.val_good} good{defects} image(s) are held out for validation and calibration; "
        unused = f" ({self.train_defect} defect image(s) are not used by this family)" if self.train_defect else ""
        labelled = ""
        if self.calibration_defect:
            labelled = (f" To balance misses and false alarms, {self.calibration_good} good and "
                        f"{self.calibration_defect} defect image(s) of test/ also calibrate the threshold; the "
                        f"other {self.kept_for_evaluate} are kept for evaluate.")
        return held + f"{self.train_good} good image(s) are trained on{unused}.{labelled}"


def summarize(folders: list[str], extra_good: list[str], val_fraction: float, seed: int,
              check_limit: int | None = 200, examples: int = 8, test_fraction: float = 0.2) -> DataSummary:
    """Open each folder and describe what training would use.

    Args:
        folders: dataset folders.
        extra_good: loose good image files added to the training set.
        val_fraction: the share held out for calibration.
        seed: the split's seed (the same split the training job makes).
        test_fraction: the share families that learn from defects keep unseen for evaluation.
        check_limit: image headers read per folder for the warnings.
        examples: how many example images to pick for the thumbnail strip.

    Returns:
        The summary; ``error`` says why the data cannot be used.
    """
    summary = DataSummary()
    samples: list[Sample] = []
    labelled: list[Sample] = []
    calibration: list[Sample] = []
    supervised: list[Sample] = []
    for folder in folders:
        try:
            dataset = open_dataset(folder)
        except InspectorError as exc:
            summary.error = str(exc)
            return summary
        prefix = f"{Path(folder).name}/" if len(folders) > 1 else ""
        summary.counts.update({prefix + k: v for k, v in dataset.counts().items()})
        summary.warnings += dataset.check(check_limit)
        samples += dataset.training_samples()
        labelled += dataset.samples
        supervised += _count_supervised(summary.supervised, dataset.samples, val_fraction, test_fraction, seed)
        if dataset.layout == "mvtec" and any(s.split == "test" for s in dataset.samples):
            summary.notes.append(f"{Path(folder).name}: MVTec layout — families that learn from good images train "
                                 "on train/good and calibrate on a share of test/, leaving the rest for "
                                 "evaluation; families that learn from defects also learn from part of test/")
            calibration += _count_calibration(summary, dataset, val_fraction, seed)
    extra = [Sample(Path(p), GOOD, GOOD, "train") for p in extra_good]
    missing = [p.name for p in (s.path for s in extra) if not p.is_file()]
    if missing:
        summary.warnings.append(f"{len(missing)} captured image(s) are missing: {', '.join(missing[:5])}")
    if extra:
        summary.counts["captured good"] = len(extra)
    samples += [s for s in extra if s.path.is_file()]
    extra_train, extra_val = split_validation([s for s in extra if s.path.is_file()], val_fraction, seed)
    summary.supervised.train_good += len(extra_train)
    summary.supervised.val_good += len(extra_val)
    summary.labelled_kinds = _kinds(labelled + samples)
    summary.calibration_defect_side = typical_defect_side(calibration)
    summary.supervised_defect_side = typical_defect_side(supervised)
    if not folders and samples and len(samples) < MIN_GOOD_IMAGES:
        summary.warnings.append(f"only {len(samples)} good image(s); at least {MIN_GOOD_IMAGES} are needed")
    _describe_split(summary, samples, val_fraction, seed)
    summary.examples = _examples(samples, examples)
    summary.image_size = typical_size([s for s in samples if s.label == GOOD])
    if not folders and not samples:
        summary.error = "choose a dataset folder"
    return summary


def _describe_split(summary: DataSummary, samples: list[Sample], val_fraction: float, seed: int) -> None:
    train, val = split_validation(samples, val_fraction, seed)
    summary.train_good = sum(s.label == GOOD for s in train)
    summary.train_defect = sum(s.label == DEFECT for s in train)
    summary.val_good = sum(s.label == GOOD for s in val)
    summary.val_defect = sum(s.label == DEFECT for s in val)
    summary.kinds = _kinds(samples) if summary.train_good else _kinds(samples) - {GOOD}


def _count_calibration(summary: DataSummary, dataset: Dataset, val_fraction: float, seed: int) -> list[Sample]:
    """Count the labelled test images a good-only family calibrates on, drawn as the training job draws them,
    and return them."""
    held, rest = labelled_calibration_share(dataset, val_fraction, seed)
    summary.calibration_good += sum(s.label == GOOD for s in held)
    summary.calibration_defect += sum(s.label == DEFECT for s in held)
    summary.kept_for_evaluate += len(rest)
    return held


def _kinds(samples: list[Sample]) -> set[str]:
    """good, defect and mask: which kinds of data these samples hold (mask when every defect has one)."""
    kinds = {GOOD} if any(s.label == GOOD for s in samples) else set()
    defects = [s for s in samples if s.label == DEFECT]
    if defects:
        kinds.add(DEFECT)
        if all(s.mask_path is not None for s in defects):
            kinds.add(MASK)
    return kinds


def _count_supervised(counts: SupervisedCounts, samples: list[Sample], val_fraction: float, test_fraction: float,
                      seed: int) -> list[Sample]:
    """Count the seeded split of a family that learns from defects; return what it trains and validates on."""
    try:
        split = split_three_ways(samples, val_fraction, test_fraction, seed)
    except ValueError:  # shares that leave nothing to train on: the training job reports it
        return []
    for part, prefix in ((split.train, "train"), (split.validation, "val"), (split.test, "test")):
        for label in (GOOD, DEFECT):
            name = f"{prefix}_{label}"
            setattr(counts, name, getattr(counts, name) + sum(s.label == label for s in part))
    return split.train + split.validation


def _examples(samples: list[Sample], count: int) -> list[Sample]:
    """Good images first, then up to half the strip of defects, spread over the data."""
    good = [s for s in samples if s.label == GOOD]
    defect = [s for s in samples if s.label == DEFECT]
    take_defect = min(len(defect), count // 2)
    take_good = min(len(good), count - take_defect)
    return spread_evenly(good, take_good) + spread_evenly(defect, take_defect)
