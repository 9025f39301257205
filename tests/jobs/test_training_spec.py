"""One training spec for the CLI, the wizard and retraining: its JSON, and the extra images it adds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import tiny_parts_dataset
from inspector_app.cli import build_parser
from inspector_app.core.datasets import typical_defect_side, write_mvtec_layout
from inspector_app.core.errors import InspectorError
from inspector_app.core.images import save_image
from inspector_app.detectors.base import DEFECT, GOOD, Progress
from inspector_app.detectors.registry import detector_class
from inspector_app.jobs.commands import build_spec
from inspector_app.jobs.training import gather_samples, load_training_data, settings_for_data, split_for
from inspector_app.jobs.training_spec import TrainingSpec


def test_a_spec_survives_its_json_and_refuses_unknown_keys(tmp_path: Path) -> None:
    spec = TrainingSpec("patch_memory", ["/data/a"], "line", {"tile_size": 256}, 0.3, 7, "v9", "n", True,
                        ["g.png"], ["d.png"])
    assert TrainingSpec.read(spec.write(tmp_path / "spec.json")) == spec
    with pytest.raises(InspectorError, match="unknown training spec key"):
        TrainingSpec.from_json({**spec.to_json(), "epochs": 3})
    with pytest.raises(InspectorError, match="no data"):
        TrainingSpec.from_json({"family": "autoencoder"})


def test_the_command_line_lays_its_options_over_a_spec_file(tmp_path: Path) -> None:
    spec = TrainingSpec("autoencoder", ["/data/a"], "line", {"epochs": 5, "image_size": 64}, seed=4,
                        extra_good=["g.png"]).write(tmp_path / "spec.json")
    (tmp_path / "defects.txt").write_text("d1.png\n\nd2.png\n", encoding="utf-8")
    args = build_parser().parse_args(["train", "--spec", str(spec), "--epochs", "2", "--set", "batch_size=4",
                                      "--extra-defect", str(tmp_path / "defects.txt")])
    built = build_spec(args)
    assert built.config == {"epochs": 2, "image_size": 64, "batch_size": 4}
    assert built.seed == 4 and built.val_fraction == 0.2 and built.name == "line"  # kept from the file
    assert built.extra_good == ["g.png"] and built.extra_defect == ["d1.png", "d2.png"]


class NeedsDefects:
    """Just what loading training data asks of a detector."""

    image_size = 32
    needs = frozenset({GOOD, DEFECT})


def test_confirmed_defects_join_the_defect_images_with_their_types(tmp_path: Path) -> None:
    parts = tiny_parts_dataset(tmp_path / "parts", size=32)
    (tmp_path / "captures").mkdir()
    loose = [Path(shutil.copy(p, tmp_path / "captures" / f"capture{i}.png"))
             for i, p in enumerate(sorted((parts / "test" / "hole").iterdir()))]
    spec = TrainingSpec("unet", [str(parts)], "line", extra_defect=[str(p) for p in loose])
    samples = gather_samples(spec)
    assert [s.path for s in samples if s.label == DEFECT] == loose  # MVTec training uses train/good only
    split = split_for(spec, NeedsDefects)
    extra = [s for s in split.train + split.validation if s.path in loose]
    assert len(extra) == len(loose) and not set(loose) & {s.path for s in split.test}  # never held for testing
    data = load_training_data(NeedsDefects(), split, spec, Progress())
    assert data.defect is not None and data.val_defect is not None
    # The dataset's own defects (3 per type under test/) are split three ways; the confirmed ones join them.
    assert len(data.defect) + len(data.val_defect) == len(loose) + 9 - sum(s.label == DEFECT for s in split.test)
    assert len(data.defect_types) == len(data.defect) and len(data.val_defect_types) == len(data.val_defect)
    assert DEFECT in data.defect_types + data.val_defect_types and data.summary["extra_defect"] == len(loose)
    assert np.array_equal(data.defect[0].shape, (32, 32, 3))
    assert json.loads(json.dumps(spec.to_json()))["extra_defect"] == [str(p) for p in loose]


def test_a_dataset_of_large_images_is_tiled_at_native_resolution_by_default(tmp_path: Path) -> None:
    good = tmp_path / "large" / "good"
    good.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        save_image(good / f"{i}.png", rng.integers(0, 255, (1000, 1000, 3), dtype=np.uint8))
    spec = TrainingSpec("patch_memory", [str(tmp_path / "large")], "big")
    events: list[dict] = []
    family = detector_class("patch_memory")
    config = settings_for_data(family, spec, gather_samples(spec), Progress(events.append))
    assert config["tile_size"] == 224 and 992 <= config["image_size"] <= 1008
    assert any("1000×1000" in e.get("message", "") and "tiles" in e["message"] for e in events)
    chosen = TrainingSpec("patch_memory", [str(tmp_path / "large")], "big", {"image_size": 320})
    assert settings_for_data(family, chosen, gather_samples(chosen), Progress()) == {"image_size": 320}
    small = family.fit_to_image_size({}, 300, 260)
    assert small == ({}, "")  # near the network's input: shrinking loses little
    assert detector_class("autoencoder").fit_to_image_size({}, 1000, 1000) == ({}, "")


@pytest.mark.parametrize(("defect_px", "tiled"), [(12, True), (300, False)])
def test_labelled_defects_wide_enough_when_shrunk_leave_large_images_untiled(tmp_path: Path, defect_px: int,
                                                                              tiled: bool) -> None:
    """1000 px images whose calibration defects stay 8 px or wider at the network's 224 px are shrunk: on
    magnetic_tile that scored better than tiles. Narrower defects (12 px → 2.7 px) are tiled as before."""
    goods = [np.full((1000, 1000, 3), 90 + i, np.uint8) for i in range(6)]
    defects = {}
    for kind in ("dent", "scratch"):
        defects[kind] = []
        for _ in range(5):
            mask = np.zeros((1000, 1000), bool)
            mask[100:100 + defect_px, 200:200 + 2 * defect_px] = True
            mask[600:603, 600:603] = True  # a speck beside it: the largest region is what counts
            defects[kind].append((np.where(mask[..., None], 200, 90).astype(np.uint8), mask))
    data = write_mvtec_layout(tmp_path / "mvtec", goods, goods[:5], defects)
    spec = TrainingSpec("patch_memory", [str(data)], "big")
    split = split_for(spec, detector_class("patch_memory"))
    samples = split.train + split.validation
    assert typical_defect_side(samples) == pytest.approx(defect_px / 1000)
    events: list[dict] = []
    config = settings_for_data(detector_class("patch_memory"), spec, samples, Progress(events.append))
    assert (config.get("tile_size") == 224) == tiled
    if not tiled:
        assert config == {} and any("shrunk, not tiled" in e.get("message", "") for e in events)
    whole = TrainingSpec("patch_memory", [str(data)], "big", threshold_objective="false_alarm_rate")
    plain = split_for(whole, detector_class("patch_memory"))  # no labelled defects drawn: image size alone
    assert settings_for_data(detector_class("patch_memory"), whole, plain.train + plain.validation,
                             Progress())["tile_size"] == 224
