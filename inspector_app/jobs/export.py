"""``inspector-app export``: a model version for a line PC that has TensorFlow (or only the TFLite runtime) and
numpy, but not this app.

The folder holds the family's networks (SavedModel folders or ``.tflite`` files), the arrays its scoring needs
after the networks (``.npy``), ``model.json`` (preprocessing, scoring steps, threshold and normalisation) and
``line_verdict.py``, the example (about 30 lines), with ``line_scoring.py``, the numpy scoring it calls. Before it
reports success the export scores a few images with that very scoring module and compares with the app's own scores: the largest difference, on the normalised scale where 1.0 is the
threshold, must stay within :data:`TOLERANCE`.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app import __version__
from inspector_app.core.errors import InspectorError
from inspector_app.detectors.common import runtime
from inspector_app.detectors.loaded_model import LoadedModel

FORMATS = ("savedmodel", "tflite")
#: Largest allowed difference between the export's and the app's scores, in threshold units (score 1.0 is the
#: threshold): a part can only get another verdict when it lies within 1 % of the threshold.
TOLERANCE = 0.01
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SCRIPT = RESOURCES / "line_verdict.py"  # the example a line engineer reads and runs
SCORER = RESOURCES / "line_scoring.py"  # the steps of model.json in numpy, imported by the example
#: What each scoring step computes, written into model.json for a line program in another language;
#: line_scoring.py is the executable definition.
STEP_MEANINGS = {
    "network": "run networks[network] on values[input] (float32 batch) -> values[output]",
    "standardise": "(values[input] - arrays[mean]) / arrays[std], broadcast over the batch",
    "reconstruction_error": "per pixel: mean over channels of (input - rebuilt)^2 * l2_scale when metric has "
                            "'l2', plus 1 - SSIM (Gaussian window sigma 1.5, C1 = 0.01^2, C2 = 0.03^2, averaged "
                            "over channels) when it has 'ssim'",
    "nearest_distance": "Euclidean distance of each feature vector (last axis) to its nearest row of arrays[bank]",
    "resize_bilinear": "each map to size x size, OpenCV INTER_LINEAR (half-pixel centres, edges clamped)",
    "stitch_tiles": "each tile map resized bilinearly to tile x tile, placed at (y, x) for y in origins for x in "
                    "origins, overlaps averaged: one size x size map",
    "gaussian_blur": "OpenCV GaussianBlur with this sigma: kernel of 2*round(4*sigma)+1 taps, border "
                     "reflect-101 (mirrored without repeating the edge pixel)",
    "score": "the given percentile of all map values (100 = maximum); the map is the anomaly map at the "
             "working size",
    "largest_region_area": "pixels in the largest 8-connected region of map >= level (OpenCV's connected "
                           "components); the map's maximum when no pixel reaches the level",
    "unit_rows": "each row (embedding) divided by its Euclidean length",
    "cosine_distance": "1 - the largest dot product of each unit row with a row of arrays[to] (unit rows)",
    "local_outlier_factor": "scikit-learn LocalOutlierFactor(n_neighbors=neighbours, novelty=True) fitted on "
                            "arrays[normal], -score_samples(values[input]); see line_scoring.py's _OutlierFactor",
    "score_value": "the score is values[input] itself; the map is values[map] (null: no map is exported)",
}
MODEL_JSON = "model.json"


@dataclass
class Comparison:
    """How the export's scores compare with the app's on the check images."""

    images: int
    max_difference: float  # normalised score units (1.0 = threshold)
    verdicts_agree: int
    tolerance: float = TOLERANCE

    @property
    def passed(self) -> bool:
        return self.max_difference <= self.tolerance

    def to_json(self) -> dict[str, Any]:
        return {"images": self.images, "max_normalised_difference": self.max_difference,
                "verdicts_agree": self.verdicts_agree, "tolerance": self.tolerance, "passed": self.passed}


def export_model(model: LoadedModel, fmt: str, out: Path, check_images: np.ndarray | list[np.ndarray]) -> Comparison:
    """Write ``model`` to the empty or new folder ``out`` in ``fmt`` and compare it on ``check_images``."""
    if fmt not in FORMATS:
        raise InspectorError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if out.exists() and any(out.iterdir()):
        raise InspectorError(f"{out} is not empty: give a new folder with --out (nothing was written)")
    try:
        parts = model.detector.export_parts()
    except NotImplementedError as exc:
        raise InspectorError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    networks = {role: _write_network(fn, parts.input_shapes[role], fmt, out, role) for role, fn in parts.networks.items()}
    for name, array in parts.arrays.items():
        np.save(out / f"{name}.npy", np.ascontiguousarray(array, np.float32), allow_pickle=False)
    pre = model.detector.preprocessing()
    description = {
        "model": str(model.ref),
        "family": model.family,
        "app_version": __version__,
        "format": fmt,
        "preprocessing": {
            **pre.to_json(),
            "input": "uint8 RGB image, any size",
            "working_size": parts.working_size,
            "tile_origins": parts.tile_origins,
            "explained": "resize the image to working_size × working_size (OpenCV INTER_AREA when shrinking, "
                         "INTER_LINEAR when enlarging, rounded to uint8), scale to 'scale', convert to 'colour' "
                         "(grey = 0.299 R + 0.587 G + 0.114 B), then cut size-sided tiles at every (y, x) of "
                         "tile_origins × tile_origins, rows first; the network batch is those tiles",
        },
        "networks": networks,
        "arrays": sorted(parts.arrays),
        "scorer": parts.scorer,
        "steps_explained": {op: STEP_MEANINGS.get(op, "see line_scoring.py")
                            for op in dict.fromkeys(step["op"] for step in parts.scorer)},
        "calibration": {
            "threshold": model.calibration.threshold,
            "score_low": model.calibration.score_low,
            "verdict": "FAIL when score >= threshold",
            "normalised_score": "(score - score_low) / (threshold - score_low): 0 = typical good part, 1 = threshold",
            "map_low": model.calibration.map_low,
            "normalised_map": "clip((map - map_low) / (threshold - map_low), 0): one colour scale for every frame",
        },
        "check": None,
    }
    (out / MODEL_JSON).write_text(json.dumps(description, indent=2), encoding="utf-8")
    for shipped in (SCRIPT, SCORER):
        shutil.copyfile(shipped, out / shipped.name)
    comparison = compare(model, out, check_images)
    description["check"] = comparison.to_json()
    (out / MODEL_JSON).write_text(json.dumps(description, indent=2), encoding="utf-8")
    return comparison


def compare(model: LoadedModel, out: Path, images: np.ndarray | list[np.ndarray]) -> Comparison:
    """Scores of ``images`` from the shipped script on the export, against the app's, in threshold units."""
    if len(images) == 0:
        raise InspectorError("no images to check the export on")
    line = _load_script(out / SCORER.name).LineModel(out)
    app, exported, agree = [], [], 0
    for image in images:
        ours = model.inspect(np.asarray(image)[None])
        failed, _score, normalised = line.verdict(image)
        app.append(float(ours.normalised_scores[0]))
        exported.append(float(normalised))
        agree += int(bool(failed) == bool(ours.failed[0]))
    difference = float(np.max(np.abs(np.asarray(app) - np.asarray(exported))))
    return Comparison(len(app), difference, agree)


def _write_network(fn: Any, shape: tuple[int, ...], fmt: str, out: Path, role: str) -> dict[str, Any]:
    """Save one network as a SavedModel folder (``run`` function and serving signature) or a ``.tflite`` file;
    the batch axis stays free so a line program can pass every tile of an image at once."""
    tf = runtime.tensorflow()
    module = tf.Module()
    call = (lambda x: fn(x, training=False)) if _is_keras(fn) else fn
    module.run = tf.function(call, input_signature=[tf.TensorSpec([None, *shape], tf.float32, name="input")])
    # A plain function's weights belong to no tracked object: keep every variable it reads on the module.
    module.weights = list(module.run.get_concrete_function().variables)
    entry = {"input_shape": [None, *shape], "input_dtype": "float32"}
    if fmt == "savedmodel":
        tf.saved_model.save(module, str(out / role), signatures={"serving_default": module.run})
        return {**entry, "file": role}
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.run.get_concrete_function()], module)
    (out / f"{role}.tflite").write_bytes(converter.convert())
    return {**entry, "file": f"{role}.tflite"}


def _is_keras(fn: Any) -> bool:
    keras = runtime.keras()
    return isinstance(fn, keras.Model)


def _load_script(path: Path) -> Any:
    """A shipped script exactly as it lies in the export folder, imported as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise InspectorError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_images_for(model: LoadedModel, paths: list[Path], count: int) -> tuple[list[np.ndarray], str]:
    """Images to check the export on, and where they came from: the given files, else test images of the
    dataset the model was trained on when it is still there, else generated demo parts (good and defective)."""
    from inspector_app.core.datasets import open_dataset  # noqa: PLC0415
    from inspector_app.core.images import load_image  # noqa: PLC0415

    source = "the given images"
    if not paths:
        for folder in model.meta.get("training_data", {}).get("datasets", []):
            try:
                samples = open_dataset(Path(folder)).evaluation_samples()
            except (InspectorError, OSError):
                continue
            if samples:
                chosen = min(count, len(samples))
                paths = [samples[i * len(samples) // chosen].path for i in range(chosen)]
                source = f"test images of the training dataset {folder}"
                break
    if paths:
        return [load_image(p) for p in paths[:count]], f"{min(count, len(paths))} {source}"
    from inspector_app.core.demo_parts import DEFECT_KINDS, render_part  # noqa: PLC0415

    side = max(model.detector.preprocessing().size[0], 64) * 2
    kinds = [None, *DEFECT_KINDS]
    return ([render_part(9000 + i, side, defect=kinds[i % len(kinds)])[0] for i in range(count)],
            f"{count} generated demo parts of {side} px")
