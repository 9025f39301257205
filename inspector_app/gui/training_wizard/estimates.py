"""Rough training-time estimates for the parameters page, from constants measured on the reference CPU.

An operator choosing 256 px instead of 128 px should see that an epoch takes about six times longer before
starting a run. Constants come from ``inspector_app.jobs.train_bench`` on ``../shared/data/magnetic_tile``
(2 CPU cores, shared with another job: load average ≈ 3.8); measured figures are in the docstrings below.
Families without a constant get no estimate rather than a made-up one.
"""

from __future__ import annotations

from typing import Any

#: Autoencoder seconds per training image per epoch at 128 px and base_filters 32, validation included.
#: Measured: 571 images, 19.5 s/epoch at 128 px, 3.1 s/epoch at 64 px (2 cores, load ≈ 3.8).
AUTOENCODER_S_PER_IMAGE_128 = 0.034
#: Cost grows faster than the pixel count (the dense bottleneck grows with it): 64 → 128 px is × 6.2.
AUTOENCODER_SIZE_EXPONENT = 2.6
#: Conv cost against base_filters (filters in × filters out); measured 4.4 s/epoch at 16 against 19.5 s at 32.
AUTOENCODER_FILTER_EXPONENT = 2.0
#: Patch memory: seconds per training image for one fit at 224 px (feature extraction + coreset), provisional.
PATCH_MEMORY_S_PER_IMAGE_224 = 0.08


def epoch_seconds(family: str, config: dict[str, Any], images: int) -> float | None:
    """Seconds per epoch (epoch families) or per fit (patch memory); None when there is no constant."""
    size = float(config.get("image_size", 128))
    if family == "autoencoder":
        filters = float(config.get("base_filters", 32))
        return (images * AUTOENCODER_S_PER_IMAGE_128 * (size / 128) ** AUTOENCODER_SIZE_EXPONENT
                * (filters / 32) ** AUTOENCODER_FILTER_EXPONENT)
    if family == "patch_memory":
        return images * PATCH_MEMORY_S_PER_IMAGE_224 * (size / 224) ** 2
    return None


def duration_text(seconds: float) -> str:
    """'45 s', '12 min', '2.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_text(family: str, config: dict[str, Any], images: int, on_gpu: bool = False) -> str:
    """The estimate line: per epoch and for the whole run, or the fit time for families without epochs."""
    seconds = epoch_seconds(family, config, images)
    where = "this computer's GPU (likely faster)" if on_gpu else "this CPU"
    if seconds is None:
        return f"no time estimate for {family} yet"
    if "epochs" not in config:
        return f"≈ {duration_text(seconds)} to fit on {where} ({images} images; no epochs)"
    epochs = int(config["epochs"])
    return (f"≈ {duration_text(max(seconds, 0.5))} per epoch on {where} ({images} images) — "
            f"at most {duration_text(seconds * epochs)} for {epochs} epochs (early stopping may end it sooner)")
