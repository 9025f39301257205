"""The metric family beyond the contract: a drawn defect scores above every good part after a short training,
every head and scoring survives save/load with identical scores, settings are checked, and the wizard's preview
runs without TensorFlow or scikit-learn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inspector_app.core.demo_parts import render_part
from inspector_app.detectors.base import Progress, TrainingData
from inspector_app.detectors.metric import MetricDetector

SMALL = {"image_size": 128, "epochs": 8, "batch_size": 32, "conv_channels": 32, "embedding_dims": 32,
         "head": "arcface", "scoring": "lof"}


@pytest.fixture(scope="module")
def good_parts() -> np.ndarray:
    return np.stack([render_part(100 + i, 128)[0] for i in range(40)])


@pytest.mark.slow
def test_a_part_with_a_drawn_scratch_scores_above_every_good_part(good_parts: np.ndarray) -> None:
    detector = MetricDetector(SMALL)
    detector.fit(TrainingData(good=good_parts, val_good=good_parts[:0]), Progress())
    unseen_good = np.stack([render_part(500 + i, 128)[0] for i in range(16)])
    scratched, mask = render_part(902, 128, defect="scratch")
    good_out = detector.infer(unseen_good)
    defect_out = detector.infer(scratched[None])
    assert defect_out.scores[0] > good_out.scores.max(), (defect_out.scores, np.sort(good_out.scores))
    assert defect_out.maps.shape == (1, 128, 128) and (defect_out.maps >= 0).all()


@pytest.mark.parametrize(("head", "scoring"), [("adacos", "centre"), ("arcface", "lof")])
def test_other_heads_and_scorings_load_with_identical_scores(good_parts: np.ndarray, tmp_path: Path,
                                                              head: str, scoring: str) -> None:
    config = {**MetricDetector.quick_config(), "head": head, "scoring": scoring}
    detector = MetricDetector(config)
    detector.fit(TrainingData(good=good_parts[:12, ::2, ::2].copy(), val_good=good_parts[:0]), Progress())
    detector.save(tmp_path)
    loaded = MetricDetector.load(tmp_path, detector.config)
    images = np.stack([render_part(700, 64)[0], render_part(701, 64, defect="hole")[0]])
    before, after = detector.infer(images), loaded.infer(images)
    np.testing.assert_array_equal(after.scores, before.scores)
    np.testing.assert_array_equal(after.maps, before.maps)
    empty = loaded.infer(images[:0])
    assert empty.scores.shape == (0,) and empty.maps.shape == (0, 64, 64)
    assert loaded.networks()["trunk"].get_layer("head").__class__ is detector.networks()["trunk"].get_layer("head").__class__


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("head", "cosface", "unknown head 'cosface'"),
    ("scoring", "mahalanobis", "unknown scoring 'mahalanobis'"),
    ("image_size", 100, "multiple of 16, got 100"),
    ("anomaly_classes", ["lines", "smudge"], "smudge"),
])
def test_bad_settings_are_refused_by_name(setting: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetricDetector({setting: value})
    with pytest.raises(ValueError, match="AdaCos head needs at least two synthetic anomaly classes"):
        MetricDetector({"head": "adacos", "anomaly_classes": ["lines"]})


def test_the_wizard_preview_needs_neither_tensorflow_nor_scikit_learn() -> None:
    code = (
        "import sys, numpy as np\n"
        "from inspector_app.core.demo_parts import render_part\n"
        "from inspector_app.detectors.registry import detector_class\n"
        "family = detector_class('metric')\n"
        "shown = family.synthetic_preview([render_part(i, 96)[0] for i in range(3)], {})\n"
        "assert list(shown) == ['normal', 'lines', 'distortion', 'cutpaste'], list(shown)\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
