"""Patch-memory family (PatchCore): remember the patch features of good parts; far from all of them is a defect.

Trains in seconds from good images alone, with nothing to learn by gradient descent: a pretrained CNN
(EfficientNet-Lite0 by default, whose ImageNet weights install with the app) describes every patch, a greedy
coreset keeps a small set of normal patch features that still covers them all, and at inference the distance
of each patch to its nearest remembered neighbour is the anomaly map. The image score is the map's maximum:
one unusual patch is enough to fail a part.

Large images with small defects are handled by tiling: ``image_size`` is then the full working resolution and
the network sees overlapping ``tile_size`` tiles (see :mod:`.patch_memory_tiles`).

Saved without pickle: the memory bank as ``memory_bank.npy``, the fitted geometry in ``patch_memory.json``;
the backbone is rebuilt from its named weights on load.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.errors import ModelStoreError, TrainingCancelled
from inspector_app.detectors.common.anomaly_maps import smooth_maps, upsample_maps
from inspector_app.detectors.common.model_files import load_array, model_file
from inspector_app.detectors.backbones import BACKBONES
from inspector_app.detectors.base import (
    GOOD, Detector, ExportParts, FitReport, Inference, Preprocessing, Progress, TrainingData, checked_images,
)
from inspector_app.detectors.settings import Setting
from inspector_app.detectors.common.tiling import (
    TileGeometry, cut_tiles, native_tiling, stitch, to_working_size,
)

log = logging.getLogger(__name__)
BANK_FILE = "memory_bank.npy"
INFO_FILE = "patch_memory.json"
FORMAT = 1
#: Seconds per training image for a whole ``train`` run at 224 px (features, coreset, calibration), from
#: ``inspector-app bench --training`` on magnetic_tile on 2 shared CPU cores; tiles scale it by pixel count.
S_PER_IMAGE_224 = 0.046


class PatchMemoryDetector(TileGeometry, Detector):
    """PatchCore: pretrained patch features, a coreset memory bank, nearest-neighbour distance as anomaly."""

    kind = "patch_memory"
    title = "Patch memory (PatchCore)"
    description = "Remembers what every patch of a good part looks like; patches unlike any of them are defects."
    needs = frozenset({GOOD})
    settings = {
        "image_size": Setting("Image size (px)", main=True, range=(16, 8192, 16)),
        "tile_size": Setting("Tile size (px, 0 = no tiling)", main=True, range=(0, 2048, 16)),
        "backbone": Setting("Backbone", main=True, choices=tuple(BACKBONES)),
        "tile_overlap": Setting("Tile overlap (fraction)"),
        "coreset_fraction": Setting("Patches remembered (fraction kept by the coreset)"),
        "neighbourhood": Setting("Patch neighbourhood (feature cells averaged, n×n)", range=(1, 9, 2)),
        "smoothing_sigma": Setting("Map smoothing (Gaussian sigma, px)"),
        "layers": Setting("Backbone taps (JSON list, shallower first)"),
    }

    @classmethod
    def quick_config(cls) -> dict[str, Any]:
        return {"image_size": 64, "layers": ["stride8", "stride16"]}

    @classmethod
    def fit_to_image_size(cls, config: dict[str, Any], width: int, height: int,
                          defect_side: float | None = None) -> tuple[dict[str, Any], str]:
        """Large images with small defects lose them when shrunk to the network's input: tile them instead."""
        return native_tiling(config, int(cls.default_config()["image_size"]), width, height, "inspecting", defect_side)

    @classmethod
    def estimate_seconds(cls, config: dict[str, Any], images: int, defects: int | None = None) -> float | None:
        geometry = cls(config)  # its own tiling geometry; nothing is loaded until it fits
        try:
            tiles = len(geometry.origins) ** 2
        except ValueError:  # an overlap being typed; the run itself refuses it
            tiles = (geometry.image_size / geometry.tile) ** 2
        return images * S_PER_IMAGE_224 * tiles * geometry.tile**2 / 224**2

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        layers = self.config["layers"]
        if isinstance(layers, str):  # "stride8,stride16" from a command line or a settings field
            self.config["layers"] = [part.strip() for part in layers.split(",") if part.strip()]
        self._network: Any = None
        self._bank: np.ndarray | None = None
        self._bank_owner: np.ndarray | None = None  # the training image each bank row came from (fit only)

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "image_size": 224,  # working resolution (square); with tiling, the full resolution to tile
            "backbone": "efficientnet_lite0",
            "layers": ["stride16", "stride32"],  # two taps of the backbone, shallower first
            "weights_dir": "",  # extra folder for keras.applications ImageNet weights
            "neighbourhood": 3,  # patch = average over n×n feature cells
            "coreset_fraction": 0.1,
            "max_bank_size": 20000,
            "projection_dims": 128,  # random projection used only to choose the coreset
            "coreset_chunk": 100000,
            "max_patches": 500000,  # bound on stored training patches (memory); subsampled per image above it
            "tile_size": 0,  # 0 = no tiling; else the network's input tile inside image_size
            "tile_overlap": 0.25,
            "smoothing_sigma": 4.0,  # Gaussian blur of the map, in working-resolution pixels
            "batch_size": 16,
            "seed": 0,
        }

    def _ensure_network(self) -> Any:
        if self._network is None:
            from inspector_app.detectors.patch_memory.network import PatchNetwork  # noqa: PLC0415 - loads TF

            c = self.config
            self._network = PatchNetwork(
                c["backbone"], list(c["layers"]), self.tile, int(c["neighbourhood"]), c["weights_dir"]
            )
        return self._network

    def preprocessing(self) -> Preprocessing:
        tiled = self.tile < self.image_size
        how = f"area to {self.image_size}, then overlapping {self.tile} px tiles" if tiled else "area"
        return Preprocessing((self.tile, self.tile), "RGB", "0..255", how)

    def networks(self) -> dict[str, Any]:
        return {"features": self._ensure_network().extractor}

    def export_parts(self) -> ExportParts:
        """The patch-feature network, and the memory bank with the nearest-neighbour search, stitching and
        smoothing that ``infer`` does after it."""
        if self._bank is None:
            msg = "patch memory has no memory bank to export: fit or load it first"
            raise RuntimeError(msg)
        network = self._ensure_network()
        steps = [
            {"op": "network", "network": "patch_features", "input": "input", "output": "features"},
            {"op": "nearest_distance", "input": "features", "bank": "memory_bank", "output": "distances"},
            {"op": "stitch_tiles", "input": "distances", "size": self.image_size, "tile": self.tile,
             "origins": self.origins, "output": "map"},
            {"op": "gaussian_blur", "input": "map", "sigma": float(self.config["smoothing_sigma"]), "output": "map"},
            {"op": "score", "input": "map", "percentile": 100.0},
        ]
        return ExportParts({"patch_features": network.features_function}, {"patch_features": (self.tile, self.tile, 3)},
                           {"memory_bank": self._bank}, steps, self.image_size, self.origins)

    def _tiles(self, images: np.ndarray) -> np.ndarray:
        images = checked_images(images, "patch memory")
        return cut_tiles(to_working_size(images, self.image_size), self.tile, self.origins)

    # -- training -------------------------------------------------------------------------------------------
    def fit(self, data: TrainingData, progress: Progress) -> FitReport:
        started = time.monotonic()
        network = self._ensure_network()
        features, owners = self._collect_features(np.asarray(data.good), network, progress)
        extracted = time.monotonic()
        wanted = int(round(float(self.config["coreset_fraction"]) * len(features)))
        count = min(wanted, int(self.config["max_bank_size"]))
        from inspector_app.detectors.common.coreset import coreset_indices  # noqa: PLC0415

        progress(stage="coreset", fraction=0.0, message=f"choosing {count} of {len(features)} patch features")
        chosen = coreset_indices(
            features,
            max(count, 1),
            projection_dims=int(self.config["projection_dims"]),
            chunk_size=int(self.config["coreset_chunk"]),
            seed=int(self.config["seed"]),
            progress=lambda f: progress(stage="coreset", fraction=f),
            should_stop=progress.should_stop,
        )
        if progress.should_stop():
            raise TrainingCancelled("training cancelled by the user")
        self._set_bank(features[chosen])
        self._bank_owner = owners[chosen]
        finished = time.monotonic()
        details = {
            "train_images": int(len(data.good)),
            "patches": int(len(features)),
            "bank_size": int(len(chosen)),
            "feature_dims": int(features.shape[1]),
            "tiles_per_image": len(self.origins) ** 2,
            "feature_seconds": round(extracted - started, 2),
            "coreset_seconds": round(finished - extracted, 2),
        }
        progress(stage="done", fraction=1.0, message=f"memory bank of {len(chosen)} patches")
        log.info("patch memory fitted: %s", details)
        return FitReport(epochs_run=1, history={}, seconds=finished - started, details=details)

    def _collect_features(self, images: np.ndarray, network: Any, progress: Progress) -> tuple[np.ndarray, np.ndarray]:
        """Patch features of every good image, at most ``max_patches`` in total (kept patches drawn at random),
        and the index of the image each came from."""
        if len(images) == 0:
            msg = "patch memory needs at least one good image to fit, got none"
            raise ValueError(msg)
        per_image = network.patches_per_tile * len(self.origins) ** 2
        keep = min(per_image, max(1, int(self.config["max_patches"]) // len(images)))
        rng = np.random.default_rng(int(self.config["seed"]))
        out = np.empty((len(images) * keep, network.dims), np.float32)
        batch = max(1, int(self.config["batch_size"]) // len(self.origins) ** 2)
        for start in range(0, len(images), batch):
            if progress.should_stop():
                raise TrainingCancelled("training cancelled while extracting features")
            chunk = images[start : start + batch]
            feats = network.features(self._tiles(chunk)).reshape(len(chunk), per_image, network.dims)
            for i, f in enumerate(feats):
                rows = f if keep == per_image else f[rng.choice(per_image, keep, replace=False)]
                out[(start + i) * keep : (start + i + 1) * keep] = rows
            done = min(start + batch, len(images))
            progress(stage="features", fraction=done / len(images), message=f"features of {done}/{len(images)} images")
        return out, np.repeat(np.arange(len(images)), keep)

    def _set_bank(self, bank: np.ndarray) -> None:
        self._bank = np.ascontiguousarray(bank, np.float32)
        self._ensure_network().set_bank(self._bank)

    # -- inference ------------------------------------------------------------------------------------------
    def infer(self, images: np.ndarray) -> Inference:
        if self._bank is None:
            msg = "patch memory has no memory bank: fit or load it first"
            raise RuntimeError(msg)
        images = checked_images(images, "patch memory")
        if len(images) == 0:
            return Inference(np.zeros(0, np.float32), np.zeros(images.shape[:3], np.float32))
        maps, scores = self._maps_and_scores(self._network.patch_scores(self._tiles(images)), len(images))
        return Inference(scores, upsample_maps(maps, images.shape[1], images.shape[2]))

    def _maps_and_scores(self, patch_maps: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Tile patch distances → smoothed maps at the working size, and each image's score (the map's maximum)."""
        maps = stitch(patch_maps, count, self.image_size, self.tile, self.origins)
        maps = smooth_maps(maps, float(self.config["smoothing_sigma"]))
        return maps, maps.reshape(len(maps), -1).max(axis=1).astype(np.float32)

    def out_of_fold_scores(self, good: np.ndarray, progress: Progress) -> np.ndarray | None:
        """Each training image scored against the memory without its own patches (leave one image out)."""
        if self._bank is None or self._bank_owner is None or int(self._bank_owner.max(initial=-1)) >= len(good):
            return None
        scores = np.empty(len(good), np.float32)
        for i in range(len(good)):
            if progress.should_stop():
                raise TrainingCancelled("training cancelled while calibrating")
            own = np.flatnonzero(self._bank_owner == i)
            patch_maps = self._network.patch_scores_without(self._tiles(good[i : i + 1]), self._bank, own)
            scores[i] = self._maps_and_scores(patch_maps, 1)[1][0]
            if i % 16 == 0 or i == len(good) - 1:
                progress(stage="calibrate", fraction=(i + 1) / len(good),
                         message="scoring each good image without its own patches")
        return scores

    # -- files ----------------------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        if self._bank is None:
            msg = "nothing to save: the patch memory has not been fitted"
            raise RuntimeError(msg)
        folder = Path(folder)
        np.save(folder / BANK_FILE, self._bank, allow_pickle=False)
        info = {"format": FORMAT, "bank_size": int(len(self._bank)), "feature_dims": int(self._bank.shape[1]),
                "config": self.config}
        (folder / INFO_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, config: dict[str, Any]) -> PatchMemoryDetector:
        folder = Path(folder)
        info_path = model_file(folder, INFO_FILE)
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
            dims = int(info["feature_dims"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = f"{info_path} is corrupt: {exc}"
            raise ModelStoreError(msg) from None
        if info.get("format") != FORMAT:
            msg = f"{folder}: patch memory format {info.get('format')!r} is not supported (expected {FORMAT})"
            raise ModelStoreError(msg)
        detector = cls(config)
        detector._set_bank(load_array(folder, BANK_FILE, (None, dims)))
        return detector

