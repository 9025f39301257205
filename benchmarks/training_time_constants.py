"""Dev measurement (not a test): the wizard's training-time constants of the CAM classifier, U-Net and metric
families, from short timed trainings on this machine.

    python benchmarks/training_time_constants.py
    python benchmarks/training_time_constants.py --families unet --data ../shared/data/magnetic_tile

Each family is trained for a few epochs (early stopping off) with ``jobs.train_bench.bench_family`` at its
reference size and at a smaller one, on the app's generated flanges (``core.demo_parts``, written with masks to
a temporary folder) unless ``--data`` names a dataset. The steady epochs (the first, which traces the graphs,
left out) give the constants the families' ``estimate_seconds`` use:

- ``cam_classifier``: seconds per training image per epoch at 224 px (the epoch's validation pass included);
- ``unet``: seconds per training tile per epoch at 256 px (tiles per epoch from the fit's own count);
- ``metric``: seconds per synthetic-set image (each good image and its anomalies) for making the set and its
  frozen features, once, and per epoch of the trunk and head, at 224 px;

and, from the two sizes, the exponent of the size the cost grows with. Wall seconds (what a user waits) and
this process's CPU seconds are printed with the load average: the machine may be shared, and every figure
moves with its load.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import tempfile
from pathlib import Path
from typing import Any

from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.images import save_image
from inspector_app.jobs.train_bench import bench_family

#: Family → (reference size, smaller size); the reference is the one the constant is quoted at.
SIZES = {"cam_classifier": (224, 160), "unet": (256, 128), "metric": (224, 160)}
GOOD, PER_KIND = 30, 10


def generated_parts(folder: Path) -> Path:
    """Good flanges and flanges with each kind of drawn defect and its mask, in the plain layout."""
    for sub in ["good", *(f"{top}/{kind}" for top in ("defect", "masks") for kind in DEFECT_KINDS)]:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(GOOD):
        save_image(folder / "good" / f"part_{i:03d}.png", render_part(7000 + i)[0])
    for k, kind in enumerate(DEFECT_KINDS):
        for i in range(PER_KIND):
            image, mask = render_part(8000 + 100 * k + i, defect=kind)
            save_image(folder / "defect" / kind / f"{kind}_{i:02d}.png", image)
            save_image(folder / "masks" / kind / f"{kind}_{i:02d}.png", (mask * 255).astype("uint8"))
    return folder


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_unit(kind: str, row: dict[str, Any]) -> dict[str, float]:
    """The family's constants from one bench row: seconds per unit of work at that row's size."""
    epoch = float(row["seconds_per_epoch"])
    details = row["details"]
    if kind == "cam_classifier":
        return {"s_per_image_epoch": epoch / row["train_images"]}
    if kind == "unet":
        return {"s_per_tile_epoch": epoch / details["tiles_per_epoch"]}
    synthetic = details["train_images"] + details["synthetic_images"]
    return {"s_features_per_image": details["feature_seconds"] / synthetic, "s_trunk_per_image_epoch": epoch / synthetic}


def measure(kind: str, data: Path, epochs: int) -> None:
    rows = {}
    for size in SIZES[kind]:
        cpu = cpu_seconds()
        row = bench_family(kind, data, epochs, {"image_size": size})
        row["cpu_seconds"] = cpu_seconds() - cpu
        rows[size] = (row, per_unit(kind, row))
        constants = ", ".join(f"{k} {v:.4g}" for k, v in rows[size][1].items())
        print(f"{kind} {size} px: {row['train_images']} training images, {row['epochs']} epochs, "
              f"{row['seconds_per_epoch']:.2f} s per steady epoch (first {row['first_epoch_seconds']:.2f} s), "
              f"fit {row['fit_seconds']:.1f} s wall, {row['cpu_seconds']:.1f} s CPU (load, fit and setup); "
              f"load average {row['load_average_before']:.1f}→{row['load_average_after']:.1f}; {constants}",
              flush=True)
    big, small = SIZES[kind]
    for key, value in rows[big][1].items():
        exponent = math.log(value / rows[small][1][key]) / math.log(big / small)
        print(f"{kind}: {key} at {big} px = {value:.4g}; grows with size ^ {exponent:.2f} ({small} → {big} px)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="dataset with good and defect images (and masks for the U-Net); "
                                       "default: generated flanges")
    parser.add_argument("--families", default=",".join(SIZES), help="comma-separated, from " + ", ".join(SIZES))
    parser.add_argument("--epochs", type=int, default=3, help="epochs per timed run (the first is left out)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="training_constants_") as tmp:
        data = Path(args.data) if args.data else generated_parts(Path(tmp) / "parts")
        print(f"data: {data}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
        for kind in args.families.split(","):
            measure(kind.strip(), data, args.epochs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
