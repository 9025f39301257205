"""One training run: load data → fit → calibrate on held-out images → save a new version atomically.

Runs in its own process when started from the GUI (``inspector-app train --json-progress``), so a crash
or an out-of-memory cannot take the inspection window down. Cancel (SIGINT/SIGTERM or ``Progress.stop``)
leaves no version behind and never touches the active model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.calibration import Objective, calibrate
from inspector_app.core.datasets import (
    TRAIN,
    DataSplit,
    Sample,
    labelled_calibration_share,
    load_images,
    load_masks,
    open_dataset,
    split_record,
    split_three_ways,
    split_validation,
    typical_defect_side,
    typical_size,
)
from inspector_app.core.errors import DatasetError, InspectorError, TrainingCancelled, printable
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.detectors.common import runtime
from inspector_app.detectors.base import DEFECT, GOOD, MASK, Detector, Progress, TrainingData
from inspector_app.detectors.registry import detector_class
from inspector_app.jobs.training_spec import TrainingSpec

log = logging.getLogger(__name__)
#: Fewer held-out good images than this and the run warns that the threshold rests on little evidence.
FEW_VALIDATION_IMAGES = 5


def gather_samples(spec: TrainingSpec) -> list[Sample]:
    """Training samples of every dataset named in the spec, plus loose extra good images (captures)."""
    samples: list[Sample] = []
    for path in spec.data:
        samples.extend(open_dataset(path).training_samples())
    samples.extend(_extra_samples(spec))
    if not samples:
        msg = f"no training images found in {', '.join(spec.data) or 'the given folders'}"
        raise DatasetError(msg)
    return samples


def _extra_samples(spec: TrainingSpec) -> list[Sample]:
    return ([Sample(Path(p), GOOD, GOOD, "train") for p in spec.extra_good]
            + [Sample(Path(p), DEFECT, DEFECT, "train") for p in spec.extra_defect])


def split_for(spec: TrainingSpec, family: type[Detector] | Detector) -> DataSplit:
    """The images a run of ``family`` fits on, validates on and must never be scored on.

    A family that learns from defects pools every labelled image of each dataset (in the MVTec layout the
    defects live under ``test/``) and splits it with the spec's seed into train / validation / test
    (``1 - val_fraction - test_fraction`` / ``val_fraction`` / ``test_fraction``), stratified by defect type;
    the split's files go into ``meta.json`` so ``evaluate`` scores only the test part. Other families keep the
    dataset's own split: they learn from (a validation split of) the training images, and ``test`` is empty.
    Loose extra images (captures) are only ever trained or validated on.
    """
    if DEFECT not in family.needs:
        train, validation = split_validation(gather_samples(spec), spec.val_fraction, spec.seed)
        return _with_labelled_calibration(spec, DataSplit(train, validation))
    split = DataSplit([], [], [])
    datasets = []
    for path in spec.data:
        dataset = open_dataset(path)
        part = split_three_ways(dataset.samples, spec.val_fraction, spec.test_fraction, spec.seed)
        datasets.append(split_record(dataset.root, part))
        split.train += part.train
        split.validation += part.validation
        split.test += part.test
    pooled = {s.path.resolve() for s in split.train + split.validation + split.test}
    # A capture that is also a dataset file is already split; a second copy could put it in train and test.
    extra = [s for s in _extra_samples(spec) if s.path.resolve() not in pooled]
    extra_train, extra_validation = split_validation(extra, spec.val_fraction, spec.seed)
    split.train += extra_train
    split.validation += extra_validation
    if not split.train:
        msg = f"no training images found in {', '.join(spec.data) or 'the given folders'}"
        raise DatasetError(msg)
    split.record = {
        "seed": spec.seed,
        "fractions": {"train": round(1.0 - spec.val_fraction - spec.test_fraction, 6),
                      "validation": spec.val_fraction, "test": spec.test_fraction},
        "stratified_by": "defect type, per dataset",
        "datasets": datasets,
        "extra": {"train": [str(s.path) for s in extra_train], "validation": [str(s.path) for s in extra_validation]},
    }
    return split


def _with_labelled_calibration(spec: TrainingSpec, split: DataSplit) -> DataSplit:
    """A family that learns from good images only also calibrates on a seeded ``val_fraction`` share of the
    labelled test images (good and defect, per defect type) of every dataset that has defects there, so its
    threshold can aim at the balance of misses and false alarms; the rest stays unseen for ``evaluate``.

    An explicit false-alarm-rate objective needs no defects and leaves the dataset's test images whole.
    """
    if spec.threshold_objective == Objective.FALSE_ALARM_RATE:
        return split
    datasets, calibration_good = [], 0
    for path in spec.data:
        dataset = open_dataset(path)
        held, rest = labelled_calibration_share(dataset, spec.val_fraction, spec.seed)
        if not held:
            continue
        own_train = [s for s in split.train if s.path.is_relative_to(dataset.root)]
        own_validation = [s for s in split.validation if s.path.is_relative_to(dataset.root)]
        datasets.append(split_record(dataset.root, DataSplit(own_train, own_validation + held, rest)))
        split.validation += held
        split.test += rest
        calibration_good += sum(s.label == GOOD for s in held)
    if not datasets:
        return split
    defects = sum(s.label == DEFECT for s in split.validation)
    split.defect_share = defects / (defects + calibration_good)
    split.record = {
        "seed": spec.seed,
        "fractions": {"calibration": spec.val_fraction},
        "stratified_by": "defect type, per dataset; only the labelled test images are split",
        "datasets": datasets,
        "extra": {},
    }
    return split


def load_training_data(detector: Detector, split: DataSplit, spec: TrainingSpec, progress: Progress) -> TrainingData:
    """Load and resize the images of ``split`` the family needs; unreadable files are skipped and reported."""
    train, val = split.train, split.validation
    size = detector.image_size
    skipped: list[str] = []

    def on_error(path: Path, reason: str) -> None:
        skipped.append(f"{printable(path.name)}: {reason}")
        progress(stage="load", message=f"skipped {printable(path.name)}: {reason}")

    def load(chosen: list[Sample], what: str) -> tuple[np.ndarray, list[Sample]]:
        if progress.should_stop():
            raise TrainingCancelled("training cancelled while loading images")

        def report(done: int, total: int) -> None:
            progress(stage="load", message=f"loading {what}", fraction=done / max(total, 1))

        return load_images(chosen, size, on_error=on_error, progress=report)

    good, _ = load([s for s in train if s.label == "good"], "good images")
    val_good, val_good_loaded = load([s for s in val if s.label == "good"], "validation images")
    data = TrainingData(good=good, val_good=val_good)
    val_defect_loaded: list[Sample] = []
    if DEFECT in detector.needs or any(s.label == "defect" for s in val):
        defect, defect_loaded = load([s for s in train if s.label == DEFECT], "defect images")
        val_defect, val_defect_loaded = load([s for s in val if s.label == DEFECT], "validation defects")
        data.defect, data.val_defect = defect, val_defect
        data.defect_types = [s.defect_type for s in defect_loaded]
        data.val_defect_types = [s.defect_type for s in val_defect_loaded]
        if MASK in detector.needs:
            data.defect_masks = load_masks(defect_loaded, size)
            data.val_defect_masks = load_masks(val_defect_loaded, size)
    data.summary = {
        "datasets": list(spec.data),
        "extra_good": len(spec.extra_good),
        "extra_defect": len(spec.extra_defect),
        "train_good": int(len(data.good)),
        "val_good": int(len(data.val_good)),
        "train_defect": int(0 if data.defect is None else len(data.defect)),
        "val_defect": int(0 if data.val_defect is None else len(data.val_defect)),
        "skipped": skipped,
        "image_size": size,
        "val_fraction": spec.val_fraction,
        "test_fraction": spec.test_fraction if split.record else 0.0,
        "test_images": len(split.test),
        "seed": spec.seed,
    }
    # Popped by run_training into meta["validation_scores"] (the wizard shows the images nearest the threshold).
    data.summary["val_files"] = {"good": [str(s.path) for s in val_good_loaded],
                                 "defect": [str(s.path) for s in val_defect_loaded]}
    return data


def check_needs(detector: Detector, data: TrainingData) -> None:
    missing = set(detector.needs) - data.available()
    if GOOD in missing or len(data.val_good) == 0:
        msg = f"{detector.title} needs good images for training and validation; found {len(data.good)} + {len(data.val_good)}"
        raise DatasetError(msg)
    if missing:
        msg = f"{detector.title} needs {', '.join(sorted(detector.needs))} data; this data lacks {', '.join(sorted(missing))}"
        raise DatasetError(msg)


def settings_for_data(family: type[Detector], spec: TrainingSpec, samples: list[Sample], progress: Progress) -> dict:
    """The spec's settings, with what the family chooses for the data's image size when the user chose none."""
    config = dict(spec.config)
    # The dataset's own training images, as the wizard measures them: labelled test images drawn for
    # calibration or a supervised split must not move the proposal.
    size = typical_size([s for s in samples if s.label == GOOD and s.split == TRAIN])
    if size is not None:
        config, note = family.fit_to_image_size(config, *size, typical_defect_side(samples))
        if note:
            progress(stage="data", message=note)
            log.info("%s", note)
    return config


def _objective(spec: TrainingSpec, has_validation_defects: bool) -> Objective:
    """The spec's threshold objective, or the default: best F1 when there are validation defects to balance
    misses against (a family that learns from defects, or labelled test images drawn for calibration)."""
    if spec.threshold_objective:
        try:
            return Objective(spec.threshold_objective)
        except ValueError:
            known = ", ".join(o.value for o in Objective)
            raise InspectorError(f"unknown threshold objective {spec.threshold_objective!r}; known: {known}") from None
    return Objective.BEST_F1 if has_validation_defects else Objective.FALSE_ALARM_RATE


def run_training(spec: TrainingSpec, store: ModelStore, progress: Progress) -> ModelRef:
    """Train, calibrate and save one version; raises TrainingCancelled on stop (nothing written)."""
    started = time.monotonic()
    spec.check()
    store.check_new_version(spec.name, spec.version)  # a bad name must not wait for the end of the run
    family = detector_class(spec.family)
    split = split_for(spec, family)
    detector = family(settings_for_data(family, spec, split.train + split.validation, progress))
    device = runtime.device_summary()
    progress(stage="device", message=device)
    log.info("training %s on %s", spec.family, device)
    data = load_training_data(detector, split, spec, progress)
    val_files = data.summary.pop("val_files")
    check_needs(detector, data)
    if len(data.val_good) < FEW_VALIDATION_IMAGES:
        note = (f"only {len(data.val_good)} held-out good images to calibrate the threshold on; it may be unreliable "
                "(raise --val-fraction or add good images)")
        progress(stage="data", message=note)
        log.warning("%s", note)
    progress(stage="data", message="data ready", **{k: v for k, v in data.summary.items() if k != "skipped"})
    report = detector.fit(data, progress)
    if progress.should_stop():
        raise TrainingCancelled("training cancelled by the user")
    progress(stage="calibrate", message="scoring held-out images")
    good_out = detector.infer_batched(data.val_good)
    defect_scores = defect_maps = None
    if data.val_defect is not None and len(data.val_defect):
        defect_out = detector.infer_batched(data.val_defect)
        defect_scores, defect_maps = defect_out.scores, defect_out.maps
    out_of_fold = detector.out_of_fold_scores(data.good, progress)
    good_scores = good_out.scores if out_of_fold is None else np.r_[out_of_fold, good_out.scores]
    calibration = calibrate(good_scores, good_out.maps, defect_scores, objective=_objective(spec, defect_scores is not None),
                            false_alarm_rate=spec.target_false_alarm_rate, catch_share=spec.catch_share,
                            out_of_fold=out_of_fold is not None, map_kind=detector.map_kind, defect_maps=defect_maps,
                            defect_share=split.defect_share)
    if progress.should_stop():
        raise TrainingCancelled("training cancelled by the user")
    meta = {
        "family": detector.kind,
        "title": detector.title,
        "config": detector.config,
        "input_size": [detector.image_size, detector.image_size],
        "preprocessing": detector.preprocessing().to_json(),
        "calibration": calibration.to_json(),
        "training_data": data.summary,
        "fit": {"epochs_run": report.epochs_run, "seconds": round(report.seconds, 2), "history": report.history,
                "details": report.details},
        "validation_scores": {
            "good": [float(s) for s in good_out.scores],
            "good_out_of_fold": [] if out_of_fold is None else [float(s) for s in out_of_fold],
            "defect": [] if defect_scores is None else [float(s) for s in defect_scores],
            "good_files": val_files["good"],
            "defect_files": val_files["defect"] if defect_scores is not None else [],
        },
        "metrics": {},
        # Present for families that learn from defects: evaluate leaves out the train and validation files.
        "split": split.record,
        "device": device,
        "notes": spec.notes,
        "training_spec": spec.to_json(),
        "train_seconds": round(time.monotonic() - started, 2),
    }
    progress(stage="save", message="saving model")

    def write_files(folder: Path) -> None:
        detector.save(folder)
        if progress.should_stop():  # last chance: the rename that publishes the version has not happened yet
            raise TrainingCancelled("training cancelled by the user")

    ref = store.write_version(spec.name, meta, write_files, version=spec.version)
    if spec.activate:
        store.activate(ref)
    progress(stage="done", message=f"saved {ref}", model=str(ref), threshold=calibration.threshold,
             seconds=round(time.monotonic() - started, 2))
    return ref
