"""Rough training-time estimates for the parameters page, from constants measured on the reference CPU.

An operator choosing 256 px instead of 128 px should see that an epoch takes several times longer before
starting a run. The constants come from ``inspector-app bench --training`` on magnetic_tile (the runs are in
``docs/performance.md``). Settings without a constant (e.g. the autoencoder on pretrained features) get no
estimate rather than a made-up one.
"""

from __future__ import annotations

from typing import Any

#: Autoencoder (pixel input) seconds per training image per epoch at 128 px and base_filters 32, validation
#: included.
AUTOENCODER_S_PER_IMAGE_128 = 0.026
#: The cost grows as (image size) ** this.
AUTOENCODER_SIZE_EXPONENT = 2.2
#: The cost grows as (base_filters) ** this.
AUTOENCODER_FILTER_EXPONENT = 1.8
#: Patch memory: seconds per training image for one whole ``train`` run at 224 px (start-up, features, coreset,
#: calibration).
PATCH_MEMORY_S_PER_IMAGE_224 = 0.046


def epoch_seconds(family: str, config: dict[str, Any], images: int) -> float | None:
    """Seconds per epoch (epoch families) or per fit (patch memory); None when there is no constant."""
    size = float(config.get("image_size", 128))
    if family == "autoencoder" and config.get("input_space", "pixels") == "pixels":
        filters = float(config.get("base_filters", 32))
        return (images * AUTOENCODER_S_PER_IMAGE_128 * (size / 128) ** AUTOENCODER_SIZE_EXPONENT
                * (filters / 32) ** AUTOENCODER_FILTER_EXPONENT)
    if family == "patch_memory":
        return images * PATCH_MEMORY_S_PER_IMAGE_224 * patch_memory_pixels(config) / 224**2
    return None


def patch_memory_pixels(config: dict[str, Any]) -> float:
    """Pixels the backbone sees per image: the working size, or every (overlapping) tile cut from it."""
    from inspector_app.detectors.patch_memory import PatchMemoryDetector  # noqa: PLC0415 - no TensorFlow

    detector = PatchMemoryDetector(config)  # its own tiling geometry, nothing loaded until it fits
    try:
        tiles = len(detector.origins) ** 2
    except ValueError:  # an overlap being typed; the run itself refuses it
        tiles = (detector.image_size / detector.tile) ** 2
    return float(tiles * detector.tile**2)


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
        return f"no time estimate for {family} with these settings"
    if "epochs" not in config:
        return f"≈ {duration_text(seconds)} to fit on {where} ({images} images; no epochs)"
    epochs = int(config["epochs"])
    return (f"≈ {duration_text(max(seconds, 0.5))} per epoch on {where} ({images} images) — "
            f"at most {duration_text(seconds * epochs)} for {epochs} epochs (early stopping may end it sooner)")
