"""Training-time estimates for the parameters page: each family knows its own measured cost per image."""

from __future__ import annotations

from typing import Any

from inspector_app.detectors.registry import detector_class


def epoch_seconds(family: str, config: dict[str, Any], images: int, defects: int | None = None) -> float | None:
    """Seconds per epoch (epoch families) or per fit; None when the family has no measured constant."""
    return detector_class(family).estimate_seconds(config, images, defects)


def setup_seconds(family: str, config: dict[str, Any], images: int) -> float:
    """Seconds spent once before the first epoch (the metric family's synthetic set and features)."""
    return detector_class(family).estimate_setup_seconds(config, images)


def run_seconds(family: str, config: dict[str, Any], images: int, defects: int | None = None) -> float | None:
    """The whole run at most: the setup once, then every epoch (early stopping may end it sooner); the fit
    itself for families without epochs; None when the family has no measured constant."""
    seconds = epoch_seconds(family, config, images, defects)
    if seconds is None:
        return None
    epochs = int(config["epochs"]) if "epochs" in config else 1
    return setup_seconds(family, config, images) + seconds * epochs


def duration_text(seconds: float) -> str:
    """'45 s', '12 min', '2.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_text(family: str, config: dict[str, Any], images: int, on_gpu: bool = False,
                  defects: int | None = None) -> str:
    """The estimate line: per epoch and for the whole run, or the fit time for families without epochs.

    ``defects``: how many of the ``images`` are defects, for families whose epoch depends on it (the U-Net)."""
    seconds = epoch_seconds(family, config, images, defects)
    where = "this computer's GPU (likely faster)" if on_gpu else "this CPU"
    if seconds is None:
        return f"no time estimate for {family} with these settings"
    if "epochs" not in config:
        return f"≈ {duration_text(seconds)} to fit on {where} ({images} images; no epochs)"
    epochs = int(config["epochs"])
    folds = int(config.get("calibration_folds", 0) or 0)
    # k calibration models, each given as many gradient steps as the model itself: k more fits at most.
    calibration = (f"; then up to {duration_text(seconds * epochs * folds)} more for {folds} calibration "
                   "models" if folds >= 2 else "")
    setup = setup_seconds(family, config, images)
    # E.g. the metric family makes its synthetic set and computes its frozen features once, before the epochs.
    before = f", plus ≈ {duration_text(setup)} once before the first epoch (the feature pass)" if setup > 0 else ""
    stopping = " (early stopping may end it sooner)" if "early_stopping" in config else ""
    return (f"≈ {duration_text(max(seconds, 0.5))} per epoch on {where} ({images} images) — "
            f"at most {duration_text(seconds * epochs)} for {epochs} epochs{stopping}{before}{calibration}")
