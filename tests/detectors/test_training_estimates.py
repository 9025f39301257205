"""The wizard's training-time models of the CAM classifier, U-Net and metric families: more images, epochs or
pixels cost more, the U-Net counts the tiles an epoch draws, the metric family adds its feature pass once, and
settings no measurement covers give no figure. (The constants themselves come from
``benchmarks/training_time_constants.py``; nothing here times anything.)"""

from __future__ import annotations

from typing import Any

import pytest

from inspector_app.detectors.cam_classifier import CamClassifierDetector
from inspector_app.detectors.metric import MetricDetector
from inspector_app.detectors.unet import UNetDetector
from inspector_app.gui.training_wizard.estimates import estimate_text, run_seconds

FAMILIES = [CamClassifierDetector, UNetDetector, MetricDetector]
#: A size above each family's default, untiled.
LARGER = {"cam_classifier": 320, "unet": 384, "metric": 320}


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.kind)
def test_more_images_and_more_pixels_take_longer(family: Any) -> None:
    defaults = family.default_config()
    base = family.estimate_seconds(defaults, 100)
    assert base is not None and base > 0, "the default settings were measured"
    assert family.estimate_seconds(defaults, 200) == pytest.approx(2 * base)
    larger = family.estimate_seconds({**defaults, "image_size": LARGER[family.kind]}, 100)
    assert larger is not None and larger > 1.5 * base
    smaller = family.estimate_seconds({**defaults, "image_size": 128}, 100)
    assert smaller is not None and smaller < base


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.kind)
def test_the_whole_run_grows_with_the_epochs(family: Any) -> None:
    defaults = family.default_config()
    ten = run_seconds(family.kind, {**defaults, "epochs": 10}, 100)
    twenty = run_seconds(family.kind, {**defaults, "epochs": 20}, 100)
    per_epoch = family.estimate_seconds(defaults, 100)
    assert ten is not None and twenty is not None
    assert twenty - ten == pytest.approx(10 * per_epoch)


@pytest.mark.parametrize(("family", "change"), [
    (CamClassifierDetector, {"backbone": "vgg16"}),
    (CamClassifierDetector, {"backbone": "efficientnet_lite2"}),
    (UNetDetector, {"base_filters": 16}),
    (UNetDetector, {"depth": 3}),
    (MetricDetector, {"backbone": "efficientnet_lite2"}),
    (MetricDetector, {"conv_channels": 64}),
    (MetricDetector, {"anomaly_classes": 3}),  # a JSON value being typed in the wizard
], ids=lambda x: x.kind if hasattr(x, "kind") else str(x))
def test_settings_no_measurement_covers_give_no_figure(family: Any, change: dict[str, Any]) -> None:
    config = {**family.default_config(), **change}
    assert family.estimate_seconds(config, 100) is None
    assert "no time estimate" in estimate_text(family.kind, config, 100)


def test_unet_counts_the_tiles_one_epoch_draws() -> None:
    """Every defect tile once and as many without a defect (good_per_defect 1); unknown defects: every tile."""
    defaults = UNetDetector.default_config()
    everything = UNetDetector.estimate_seconds(defaults, 100)
    assert everything is not None
    assert UNetDetector.estimate_seconds(defaults, 100, defects=10) == pytest.approx(0.2 * everything)
    assert UNetDetector.estimate_seconds(defaults, 100, defects=80) == pytest.approx(everything)
    half = UNetDetector.estimate_seconds({**defaults, "good_per_defect": 0.5}, 100, defects=10)
    assert half == pytest.approx(0.15 * everything)
    # 768 px in 256 px tiles with 25 % overlap: origins 0, 192, 384, 512, so 4×4 tiles of a 256 px network.
    tiled = UNetDetector.estimate_seconds({**defaults, "image_size": 768, "tile_size": 256}, 100)
    assert tiled == pytest.approx(16 * everything)


def test_metric_adds_its_feature_pass_once_and_counts_the_synthetic_set() -> None:
    defaults = MetricDetector.default_config()
    setup = MetricDetector.estimate_setup_seconds(defaults, 100)
    assert setup > 0
    assert MetricDetector.estimate_setup_seconds(defaults, 200) == pytest.approx(2 * setup)
    # Each good image and one anomaly of each of three classes (4 images), against two of each (7 images).
    doubled = {**defaults, "anomalies_per_image": 2}
    assert MetricDetector.estimate_setup_seconds(doubled, 100) == pytest.approx(setup * 7 / 4)
    assert MetricDetector.estimate_seconds(doubled, 100) == pytest.approx(
        MetricDetector.estimate_seconds(defaults, 100) * 7 / 4)
    per_epoch = MetricDetector.estimate_seconds(defaults, 100)
    assert run_seconds("metric", defaults, 100) == pytest.approx(setup + int(defaults["epochs"]) * per_epoch)
    assert "once before the first epoch" in estimate_text("metric", defaults, 100)
    assert CamClassifierDetector.estimate_setup_seconds(CamClassifierDetector.default_config(), 100) == 0.0
    assert "once before" not in estimate_text("cam_classifier", CamClassifierDetector.default_config(), 100)
