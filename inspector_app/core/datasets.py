"""Read image datasets in the layouts users already have, so training and evaluation need no conversion step.

Two layouts are understood:

* MVTec AD: ``train/good/``, ``test/<type>/`` (``good`` or a defect type) and
  ``ground_truth/<type>/<stem>_mask.png`` for the defect images.
* Plain: ``good/`` and ``defect/`` (images directly inside, or one sub-folder per defect type
  ``defect/<type>/``), with an optional ``masks/`` folder holding ``<stem>.png`` or ``<stem>_mask.png``
  (also ``masks/<type>/...``) for defect images.

Opening a dataset only lists folders, so it is quick even for thousands of images and fails early with a
message that names the folder and what was expected. ``Dataset.check`` reads image headers for the warnings a
user should see before training. ``load_images`` decodes and resizes, skipping and reporting files it cannot
read, so one bad file never ends a long training run.
"""

from __future__ import annotations

import logging
import re
import warnings
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from inspector_app.core.errors import DatasetError, ImageLoadError, printable
from inspector_app.core.images import load_image, load_mask, resize, to_rgb_uint8
from inspector_app.core.labels import DEFECT, GOOD

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
TRAIN = "train"
TEST = "test"
MVTEC = "mvtec"
PLAIN = "plain"
#: Below this many good training images a model is unlikely to learn what "normal" looks like.
MIN_GOOD_IMAGES = 16
_MASK_TAG = "_mask"
_EXPECTED = (
    "expected the MVTec layout (train/good/, test/<type>/, ground_truth/<type>/<stem>_mask.png) "
    "or the plain layout (good/, defect/ or defect/<type>/, optional masks/)"
)
_MAX_NAMES = 8
_HEADER_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


@dataclass(frozen=True)
class Sample:
    """One image of a dataset with its label and, for defect images, its mask file when there is one."""

    path: Path
    label: str  # "good" or "defect"
    defect_type: str  # "good" for good images, else the type name ("defect" when the plain layout has none)
    split: str  # "train" or "test"; the plain layout has no fixed split and uses "train"
    mask_path: Path | None = None


@dataclass
class Dataset:
    """The samples of one dataset folder, in a stable natural-sorted order."""

    root: Path
    layout: str  # "mvtec" or "plain"
    samples: list[Sample] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Images per folder relative to the root, e.g. ``{"train/good": 714, "test/crack": 57}``."""
        return dict(Counter(self._group(s) for s in self.samples))

    def training_samples(self) -> list[Sample]:
        """What a model may learn from: the MVTec train split, or every image of a plain dataset."""
        if self.layout == MVTEC:
            return [s for s in self.samples if s.split == TRAIN]
        return list(self.samples)

    def evaluation_samples(self) -> list[Sample]:
        """What a model is scored on: the MVTec test split, or every image of a plain dataset."""
        if self.layout == MVTEC:
            return [s for s in self.samples if s.split == TEST]
        return list(self.samples)

    def check(self, sample_limit: int | None = 200) -> list[str]:
        """Warnings a user should read before training; reads image headers of at most ``sample_limit`` samples.

        Args:
            sample_limit: how many samples (spread evenly over the dataset) to open; None opens all of them.

        Returns:
            Human-readable warnings; an empty list when nothing looks wrong.
        """
        found = self._count_warnings()
        chosen = spread_evenly(self.samples, sample_limit)
        sizes: Counter[tuple[int, int]] = Counter()
        unreadable: list[str] = []
        mismatched: list[str] = []
        for sample in chosen:
            _check_sample(sample, sizes, unreadable, mismatched)
        if len(sizes) > 1:
            examples = ", ".join(f"{w}×{h}" for (w, h), _ in sizes.most_common(4))
            found.append(
                f"image sizes vary ({len(sizes)} sizes among {len(chosen)} images checked, e.g. {examples}); "
                "images are resized to the model's square input"
            )
        if unreadable:
            found.append(f"{len(unreadable)} unreadable file(s): {_names(unreadable)}")
        if mismatched:
            found.append(f"{len(mismatched)} mask(s) differ in size from their image: {_names(mismatched)}")
        return found

    def _count_warnings(self) -> list[str]:
        found: list[str] = []
        good = sum(s.label == GOOD for s in self.training_samples())
        if good < MIN_GOOD_IMAGES:
            found.append(
                f"only {good} good training image(s) in {self.root}; at least {MIN_GOOD_IMAGES} are needed "
                "to learn what a good part looks like"
            )
        defects = [s for s in self.samples if s.label == DEFECT]
        missing = [s.path.name for s in defects if s.mask_path is None]
        if missing and len(missing) < len(defects):
            found.append(
                f"{len(missing)} of {len(defects)} defect images have no mask ({_names(missing)}); "
                "mask-trained models and pixel metrics need one per defect image"
            )
        return found

    def _group(self, sample: Sample) -> str:
        if self.layout == MVTEC:
            return f"{sample.split}/{sample.defect_type}"
        if sample.label == GOOD:
            return GOOD
        return DEFECT if sample.defect_type == DEFECT else f"{DEFECT}/{sample.defect_type}"


# -- listing ------------------------------------------------------------------------------------------------


def natural_key(text: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that puts ``img2`` before ``img10``, so listings follow what people see in a file browser."""
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts)), text


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (hidden files skipped), natural-sorted; [] when it is no folder."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [
        p for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(found, key=lambda p: natural_key(p.name))


def _names(items: Sequence[str], limit: int = _MAX_NAMES) -> str:
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown


def _mask_stem(path: Path) -> str:
    stem = path.stem
    return stem[: -len(_MASK_TAG)] if stem.endswith(_MASK_TAG) else stem


def _index_masks(folder: Path) -> dict[str, Path]:
    """Masks in one folder by the image stem they belong to; ``<stem>_mask`` wins over a bare ``<stem>``."""
    index: dict[str, Path] = {}
    for path in list_images(folder):
        key = _mask_stem(path)
        if key in index and not path.stem.endswith(_MASK_TAG):
            log.warning("%s: ignoring %s, %s is the mask for %r", folder, path.name, index[key].name, key)
            continue
        if key in index:
            log.warning("%s: ignoring %s, %s is the mask for %r", folder, index[key].name, path.name, key)
        index[key] = path
    return index


# -- opening ------------------------------------------------------------------------------------------------


def open_dataset(path: str | Path) -> Dataset:
    """Find the layout of a dataset folder and list its samples.

    Args:
        path: the dataset's root folder (the one holding ``train/`` and ``test/``, or ``good/`` and ``defect/``).

    Returns:
        The dataset with its samples in natural-sorted order.

    Raises:
        DatasetError: the folder is missing, has neither layout, has an empty required folder, or has a
            mask without a matching image.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        msg = f"dataset folder {root} {what}; {_EXPECTED}"
        raise DatasetError(msg)
    if any((root / name).is_dir() for name in (TRAIN, TEST)):
        if (root / GOOD).is_dir():
            log.warning("%s has both train/ and good/; reading it as the MVTec layout", root)
        dataset = Dataset(root, MVTEC, _mvtec_samples(root))
    elif any((root / name).is_dir() for name in (GOOD, DEFECT)):
        dataset = Dataset(root, PLAIN, _plain_samples(root))
    else:
        raise DatasetError(_neither_layout_message(root))
    log.info("opened %s dataset %s: %s", dataset.layout, root, dataset.counts())
    return dataset


def _neither_layout_message(root: Path) -> str:
    entries = sorted((p.name + ("/" if p.is_dir() else "") for p in root.iterdir()), key=natural_key)
    if not entries:
        return f"dataset folder {root} is empty; {_EXPECTED}"
    hint = ""
    nested = [p.name for p in _subfolders(root) if any((p / n).is_dir() for n in (TRAIN, TEST, GOOD, DEFECT))]
    if nested:
        hint = f"; did you mean one of its sub-folders ({_names(nested)})?"
    elif list_images(root):
        hint = f"; it holds {len(list_images(root))} loose images: sort them into good/ and defect/"
    return f"dataset folder {root} has neither layout (found {_names(entries)}); {_EXPECTED}{hint}"


def _mvtec_samples(root: Path) -> list[Sample]:
    samples = _mvtec_train(root) + _mvtec_test(root)
    if not samples:
        msg = f"{root}: MVTec layout without images in train/good/ or test/<type>/; {_EXPECTED}"
        raise DatasetError(msg)
    return samples


def _mvtec_train(root: Path) -> list[Sample]:
    train = root / TRAIN
    if not train.is_dir():
        return []
    good = train / GOOD
    if not good.is_dir():
        found = [p.name for p in _subfolders(train)] or ["nothing"]
        msg = f"{train} has no good/ sub-folder (found {_names(found)}); MVTec keeps good training images there"
        raise DatasetError(msg)
    images = list_images(good)
    if not images:
        msg = f"{good} has no images; expected the good training images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        raise DatasetError(msg)
    for other in _subfolders(train):
        if other.name != GOOD:
            log.warning("%s: ignoring %s/, MVTec training uses train/good/ only", root, other.name)
    return [Sample(p, GOOD, GOOD, TRAIN) for p in images]


def _mvtec_test(root: Path) -> list[Sample]:
    test, truth = root / TEST, root / "ground_truth"
    masks = {(t.name, stem): m for t in _subfolders(truth) for stem, m in _index_masks(t).items()}
    samples: list[Sample] = []
    type_dirs = sorted(_subfolders(test), key=lambda p: (p.name != GOOD, natural_key(p.name)))
    for type_dir in type_dirs:
        images = list_images(type_dir)
        if not images:
            log.warning("%s has no images; skipped", type_dir)
        label = GOOD if type_dir.name == GOOD else DEFECT
        for image in images:
            mask = masks.pop((type_dir.name, image.stem), None)
            samples.append(Sample(image, label, type_dir.name, TEST, mask if label == DEFECT else None))
    if masks:
        orphans = [f"{t}/{m.name}" for (t, _), m in sorted(masks.items(), key=lambda kv: natural_key(str(kv[1])))]
        (t, stem), _ = next(iter(masks.items()))
        msg = (
            f"{truth}: {len(masks)} mask(s) without a matching test image ({_names(orphans)}); "
            f"e.g. expected test/{t}/{stem}.<ext> for ground_truth/{t}/{stem}{_MASK_TAG}.png"
        )
        raise DatasetError(msg)
    return samples


def _plain_samples(root: Path) -> list[Sample]:
    good_dir, defect_dir = root / GOOD, root / DEFECT
    good = list_images(good_dir)
    if good_dir.is_dir() and not good:
        msg = f"{good_dir} has no images; expected the good images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        raise DatasetError(msg)
    defects = [(p, DEFECT) for p in list_images(defect_dir)]
    for type_dir in _subfolders(defect_dir):
        images = list_images(type_dir)
        if not images:
            log.warning("%s has no images; skipped", type_dir)
        defects.extend((p, type_dir.name) for p in images)
    if defect_dir.is_dir() and not defects:
        msg = f"{defect_dir} has no images, neither directly inside nor in sub-folders per defect type"
        raise DatasetError(msg)
    masks = _plain_masks(root / "masks", defects, {p.stem for p in good})
    return [Sample(p, GOOD, GOOD, TRAIN) for p in good] + [
        Sample(p, DEFECT, kind, TRAIN, masks.get(p)) for p, kind in defects
    ]


def _plain_masks(folder: Path, defects: list[tuple[Path, str]], good_stems: set[str]) -> dict[Path, Path]:
    """Pair defect images with ``masks/<type>/<stem>`` or ``masks/<stem>`` (either with ``_mask``)."""
    index = {(None, stem): m for stem, m in _index_masks(folder).items()}
    index.update({(t.name, stem): m for t in _subfolders(folder) for stem, m in _index_masks(t).items()})
    paired: dict[Path, Path] = {}
    users: dict[tuple[str | None, str], list[Path]] = {}
    for image, kind in defects:
        key = next((k for k in ((kind, image.stem), (None, image.stem)) if k in index), None)
        if key is not None:
            paired[image] = index[key]
            users.setdefault(key, []).append(image)
    shared = {k: v for k, v in users.items() if len(v) > 1}
    if shared:
        key, images = next(iter(shared.items()))
        msg = (
            f"{index[key]} matches several defect images ({_names([str(p) for p in images])}); "
            f"put each type's masks in {folder}/<type>/"
        )
        raise DatasetError(msg)
    orphans = [m for k, m in index.items() if k not in users and k[1] not in good_stems]
    if orphans:
        names = [str(m.relative_to(folder)) for m in orphans]
        msg = f"{folder}: {len(orphans)} mask(s) without a matching defect image ({_names(names)})"
        raise DatasetError(msg)
    return paired


# -- checks -------------------------------------------------------------------------------------------------


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header only, without decoding the pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")  # damage it reads past (EXIF)
        with Image.open(path) as image:
            return image.size


def typical_size(samples: Sequence[Sample], limit: int = 64) -> tuple[int, int] | None:
    """The median (width, height) of up to ``limit`` images spread over ``samples`` in path order (so the
    wizard and the run, listing the same images differently, agree), from their headers; None when none can
    be read."""
    sizes = []
    for sample in spread_evenly(sorted(samples, key=lambda s: natural_key(str(s.path))), limit):
        try:
            sizes.append(image_size(sample.path))
        except _HEADER_ERRORS:
            continue
    if not sizes:
        return None
    widths, heights = zip(*sizes, strict=True)
    return int(np.median(widths)), int(np.median(heights))


def typical_defect_side(samples: Sequence[Sample], limit: int = 48) -> float | None:
    """How wide the labelled defects are, as a share of their image: the median over up to ``limit`` masks
    (spread over ``samples`` in path order, as :func:`typical_size`) of the largest marked region's narrower side, each side taken against the
    image's own width or height (the network input is square). None without a readable, non-empty mask.
    48 masks decide "tile or not" as well as 200 and keep the wizard's data page (GUI thread) quick."""
    from scipy import ndimage  # noqa: PLC0415 - only when a run or the wizard sizes its tiles

    sides = []
    masked = sorted((s for s in samples if s.label == DEFECT and s.mask_path is not None),
                    key=lambda s: natural_key(str(s.path)))
    for sample in spread_evenly(masked, limit):
        try:
            mask = load_mask(sample.mask_path)
        except ImageLoadError:
            continue
        regions, count = ndimage.label(mask)
        if not count:
            continue
        largest = ndimage.find_objects(regions)[int(np.argmax(np.bincount(regions.ravel())[1:]))]
        rows, cols = largest
        sides.append(min((rows.stop - rows.start) / mask.shape[0], (cols.stop - cols.start) / mask.shape[1]))
    return float(np.median(sides)) if sides else None


def spread_evenly(samples: Sequence[Sample], limit: int | None) -> list[Sample]:
    """At most ``limit`` samples spread evenly over the list, so every folder is represented."""
    if limit is None or len(samples) <= limit:
        return list(samples)
    if limit <= 0:
        return []
    return [samples[i * len(samples) // limit] for i in range(limit)]


def _check_sample(sample: Sample, sizes: Counter, unreadable: list[str], mismatched: list[str]) -> None:
    try:
        size = image_size(sample.path)
    except _HEADER_ERRORS as exc:
        unreadable.append(f"{printable(sample.path.name)} ({exc})")
        return
    sizes[size] += 1
    if sample.mask_path is None:
        return
    try:
        mask_size = image_size(sample.mask_path)
    except _HEADER_ERRORS as exc:
        unreadable.append(f"{printable(sample.mask_path.name)} ({exc})")
        return
    if mask_size != size:
        mismatched.append(
            f"{sample.mask_path.name} {mask_size[0]}×{mask_size[1]} vs image {sample.path.name} {size[0]}×{size[1]}"
        )


# -- splitting and loading ----------------------------------------------------------------------------------


def split_validation(
    samples: Sequence[Sample], fraction: float = 0.2, seed: int = 0, minimum: int = 1
) -> tuple[list[Sample], list[Sample]]:
    """Hold out a reproducible, per-defect-type share of the samples for calibration and validation.

    The samples are sorted first, so the split depends on the seed and the files, not on the input order.
    Every defect type with at least two samples keeps at least one for training and puts at least
    ``minimum`` (when it can) into validation.

    Args:
        samples: the samples to split.
        fraction: the share of each defect type held out, between 0 and 1.
        seed: the same seed gives the same split.
        minimum: the fewest validation samples per defect type (and overall) when there are two or more.

    Returns:
        (train, validation), both in natural-sorted path order.
    """
    if not 0.0 <= fraction <= 1.0:
        msg = f"validation fraction must be between 0 and 1, got {fraction!r}"
        raise ValueError(msg)
    ordered = sorted(samples, key=lambda s: natural_key(str(s.path)))
    groups: dict[str, list[Sample]] = {}
    for sample in ordered:
        groups.setdefault(sample.defect_type, []).append(sample)
    held: set[int] = set()
    for kind, group in groups.items():
        wanted = min(max(round(len(group) * fraction), minimum), len(group) - 1) if len(group) >= 2 else 0
        rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
        held.update(id(group[i]) for i in rng.permutation(len(group))[:wanted])
    short = min(minimum, len(ordered) - 1) - len(held)
    if short > 0:  # every type had a single sample: borrow across types
        rest = [s for s in ordered if id(s) not in held]
        rng = np.random.default_rng([seed, len(ordered)])
        held.update(id(rest[i]) for i in rng.permutation(len(rest))[:short])
    return [s for s in ordered if id(s) not in held], [s for s in ordered if id(s) in held]


@dataclass
class DataSplit:
    """Which images a model fits on, which it validates and calibrates on, and which stay unseen for testing.

    ``record`` is the JSON form kept in the version's ``meta.json`` (see :func:`split_record`), so ``evaluate``
    can leave out every image training saw; it is empty for families that learn from good images only unless
    a labelled share of the dataset's test images was drawn for calibration.
    """

    train: list[Sample]
    validation: list[Sample]
    test: list[Sample] = field(default_factory=list)
    record: dict = field(default_factory=dict)
    #: The share of defects among the labelled images the validation part was drawn from, when it differs from
    #: the validation part's own (good-only families add every held-out training image); best F1 is weighed
    #: to it, so the threshold suits the labelled test images it will be judged on.
    defect_share: float | None = None


def split_three_ways(
    samples: Sequence[Sample], validation: float = 0.2, test: float = 0.2, seed: int = 0
) -> DataSplit:
    """Split labelled samples into train / validation / test, reproducibly and per defect type.

    Each defect type (``good`` included) gives about ``test`` of its images to the test part and ``validation``
    to the validation part; a type with three or more images keeps at least one in each part. Same seed and
    files, same split, whatever the input order.

    Args:
        samples: every labelled image that may be used.
        validation: the share held out for early stopping and calibration, above 0.
        test: the share never used by training, 0 or more; ``validation + test`` must stay below 1.
        seed: the split's seed.

    Returns:
        The three parts, each in natural-sorted path order (``record`` left empty).
    """
    if not (0.0 < validation < 1.0 and 0.0 <= test < 1.0 and validation + test < 1.0):
        msg = (f"validation and test shares must be above 0 (test may be 0) and leave something to train on, "
               f"got validation {validation!r} and test {test!r}")
        raise ValueError(msg)
    rest, held_for_test = split_validation(samples, test, seed) if test > 0 else (list(samples), [])
    # The validation share is of the whole pool, so of what the test part left it is a larger share.
    train, held_for_validation = split_validation(rest, validation / (1.0 - test), seed)
    return DataSplit(train, held_for_validation, held_for_test)


def labelled_calibration_share(dataset: Dataset, fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """(drawn, kept): a seeded ``fraction`` of an MVTec dataset's labelled test images, per defect type, that a
    family learning from good images calibrates on, and the rest, left for evaluation. Both empty when the
    dataset has no defects under ``test/`` (the training job and the wizard draw through this one function)."""
    labelled = dataset.evaluation_samples() if dataset.layout == MVTEC else []
    if not any(s.label == DEFECT for s in labelled):
        return [], []
    kept, drawn = split_validation(labelled, fraction, seed)
    return drawn, kept


def split_record(root: Path, split: DataSplit) -> dict:
    """The JSON form of one dataset's split: its resolved root and each part's files relative to it."""

    def relative(samples: list[Sample]) -> list[str]:
        return [sample.path.relative_to(root).as_posix() for sample in samples]

    return {"root": str(Path(root).resolve()), "name": Path(root).resolve().name, "train": relative(split.train),
            "validation": relative(split.validation), "test": relative(split.test)}


def files_seen_in_training(record: dict, root: Path) -> set[str] | None:
    """Files of the dataset at ``root`` (relative, POSIX) that a model fitted or validated on, from its split
    record; None when it was not trained on this dataset.

    A dataset is recognised by its resolved path or, once moved, by its folder name when most of the recorded
    training files are still there, so moving a folder does not let training images into an evaluation.
    """
    root = Path(root).resolve()
    for entry in record.get("datasets", []):
        seen = set(entry.get("train", [])) | set(entry.get("validation", []))
        if Path(entry.get("root", "")) == root:
            return seen
        if entry.get("name") == root.name and seen:
            present = sum((root / name).is_file() for name in seen)
            if present >= len(seen) / 2:
                return seen
    return None


def load_images(
    samples: Iterable[Sample],
    size: int,
    on_error: Callable[[Path, str], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, list[Sample]]:
    """Decode and resize images to ``size``×``size``, skipping (and reporting) the ones that cannot be read.

    Args:
        samples: what to load.
        size: the square side in pixels (area interpolation).
        on_error: called with (path, reason) for each unreadable file; logged as a warning when None.
        progress: called with (done, total) after each file.

    Returns:
        uint8 (N, size, size, 3) and the samples actually loaded, in the same order.
    """
    _check_size(size)
    chosen = list(samples)
    out = np.empty((len(chosen), size, size, 3), np.uint8)
    kept: list[Sample] = []
    for i, sample in enumerate(chosen):
        try:
            image = load_image(sample.path)
        except ImageLoadError as exc:
            _report(on_error, sample.path, exc.reason)
        else:
            out[len(kept)] = resize(image, (size, size))
            kept.append(sample)
        if progress is not None:
            progress(i + 1, len(chosen))
    if len(kept) < len(chosen):
        out = out[: len(kept)].copy()
    return out, kept


def load_masks(
    samples: Iterable[Sample], size: int, on_error: Callable[[Path, str], None] | None = None
) -> np.ndarray:
    """Defect masks as bool (N, size, size); all False for good samples and defect samples without a mask.

    Args:
        samples: usually the samples ``load_images`` returned, so masks line up with the images.
        size: the square side in pixels.
        on_error: called with (path, reason) for an unreadable mask, which then stays all False; when
            None an unreadable mask raises, as a silently empty mask would teach a model the wrong thing.

    Raises:
        ImageLoadError: a mask file cannot be read and no ``on_error`` was given.
    """
    _check_size(size)
    chosen = list(samples)
    out = np.zeros((len(chosen), size, size), bool)
    for i, sample in enumerate(chosen):
        if sample.label != DEFECT or sample.mask_path is None:
            continue
        try:
            out[i] = load_mask(sample.mask_path, (size, size))
        except ImageLoadError as exc:
            if on_error is None:
                raise
            on_error(sample.mask_path, exc.reason)
    return out


def _check_size(size: int) -> None:
    if not isinstance(size, int | np.integer) or size < 1:
        msg = f"image size must be a positive number of pixels, got {size!r}"
        raise ValueError(msg)


def _report(on_error: Callable[[Path, str], None] | None, path: Path, reason: str) -> None:
    if on_error is None:
        log.warning("skipped %s: %s", path, reason)
    else:
        log.debug("skipped %s: %s", path, reason)
        on_error(path, reason)


# -- writing ------------------------------------------------------------------------------------------------


def write_mvtec_layout(
    folder: str | Path,
    good_train: Iterable[np.ndarray],
    good_test: Iterable[np.ndarray],
    defects: dict[str, Iterable[tuple[np.ndarray, np.ndarray | None]]],
) -> Path:
    """Write generated images (uint8 RGB arrays) as an MVTec-layout dataset of PNG files.

    Used by the demo and the tests. Files are named ``000.png``, ``001.png``...; existing files of the same
    name are replaced. A defect whose mask is None gets no ground-truth file.

    Args:
        folder: the dataset root, created if needed.
        good_train: good images for ``train/good/``.
        good_test: good images for ``test/good/``.
        defects: per defect type, (image, mask) pairs for ``test/<type>/`` and ``ground_truth/<type>/``.

    Returns:
        The dataset root.
    """
    root = Path(folder)
    _write_pngs(root / TRAIN / GOOD, good_train)
    _write_pngs(root / TEST / GOOD, good_test)
    for kind, given in defects.items():
        if kind == GOOD or not kind or "/" in kind or "\\" in kind:
            msg = f"defect type must be a plain folder name other than 'good', got {kind!r}"
            raise ValueError(msg)
        pairs = list(given)
        _write_pngs(root / TEST / kind, [image for image, _ in pairs])
        truth = root / "ground_truth" / kind
        for i, (_, mask) in enumerate(pairs):
            if mask is not None:
                truth.mkdir(parents=True, exist_ok=True)
                pixels = np.where(np.asarray(mask, bool), 255, 0).astype(np.uint8)
                Image.fromarray(pixels).save(truth / f"{i:03d}{_MASK_TAG}.png")
    return root


def _write_pngs(folder: Path, images: Iterable[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(to_rgb_uint8(image)).save(folder / f"{i:03d}.png")
