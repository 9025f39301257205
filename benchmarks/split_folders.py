"""Dev measurement helper (not a test): lay out a supervised model's split as plain-layout folders of links, so
every family can be trained and scored on the same images.

    python benchmarks/split_folders.py META_JSON OUT_DIR

A supervised family (U-Net, CAM classifier) records in ``meta.json`` which files of each dataset it fitted,
validated and never saw (``split``). A family that learns from good images only would, trained on the MVTec
``train/good`` folder, learn from some of the good images in that test part. This writes, for the first dataset
of the record:

- ``OUT_DIR/trained_good/good/``: the good images of the train and validation parts (what a good-only family
  may learn from, never a test image);
- ``OUT_DIR/test/``: the test part in the plain layout (``good/``, ``defect/<type>/``,
  ``masks/<type>/<stem>_mask.png``), for ``inspector-app evaluate --data OUT_DIR/test``;
- ``OUT_DIR/fitted/``: the train part's defect images and as many of its good ones, in the same layout: scored
  there, a model that fits its own training images no better than unseen ones is underfitted, not overfitted.

Links, not copies: the shared data stay where they are.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from inspector_app.core.datasets import Sample, open_dataset


def link(target: Path, link_path: Path) -> None:
    link_path.parent.mkdir(parents=True, exist_ok=True)
    if link_path.is_symlink() or link_path.exists():
        link_path.unlink()
    link_path.symlink_to(target.resolve())


def write_folders(meta_path: Path, out: Path) -> dict[str, int]:
    record = json.loads(meta_path.read_text(encoding="utf-8"))["split"]["datasets"][0]
    root = Path(record["root"])
    samples = {s.path.relative_to(root).as_posix(): s for s in open_dataset(root).samples}
    counts = {"trained_good": 0, "test_good": 0, "test_defect": 0}
    for name in record["train"] + record["validation"]:
        sample = samples[name]
        if sample.label == "good":
            link(sample.path, out / "trained_good" / "good" / sample.path.name)
            counts["trained_good"] += 1
    for name in record["test"]:
        counts["test_" + write_plain(samples[name], out / "test")] += 1
    fitted = [samples[name] for name in record["train"]]
    defects = [s for s in fitted if s.label != "good"]
    for sample in defects + [s for s in fitted if s.label == "good"][: len(defects)]:
        label = write_plain(sample, out / "fitted")
        counts[f"fitted_{label}"] = counts.get(f"fitted_{label}", 0) + 1
    counts["test_masks"] = len(list((out / "test" / "masks").rglob("*.png")))
    return counts


def write_plain(sample: Sample, folder: Path) -> str:
    """Link one sample (and its mask) into a plain-layout dataset at ``folder``; returns its label."""
    if sample.label == "good":
        link(sample.path, folder / "good" / sample.path.name)
        return "good"
    link(sample.path, folder / "defect" / sample.defect_type / sample.path.name)
    if sample.mask_path is not None:
        link(sample.mask_path, folder / "masks" / sample.defect_type / f"{sample.path.stem}_mask.png")
    return "defect"


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(write_folders(Path(sys.argv[1]), Path(sys.argv[2]))))  # noqa: T201 - a dev script's output
