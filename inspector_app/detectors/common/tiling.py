"""Image geometry of the patch-memory family: working size, overlapping tiles and stitched maps. Pure numpy/OpenCV.

Without tiling, an image is resized to the working size and seen whole (one tile). With tiling, the working
size is large (the camera's own resolution, say 768 or 1024) and the network sees overlapping tiles of a
fixed size, so a defect a few pixels wide is not shrunk away and the network always gets the same input shape.
Tile maps are upsampled to tile size and averaged where tiles overlap.
"""

from __future__ import annotations

import cv2
import numpy as np

from inspector_app.core.images import resize


#: Images at least this many times the network's input side are tiled at native resolution by default.
TILE_FROM = 2.0
#: The largest working side chosen by default (a 1024 px image is about 36 tiles of 224 px).
MAX_NATIVE_SIDE = 1024
#: Labelled defects at least this wide (px) at the network input need no tiling: it is a cell of the feature
#: maps patch memory reads (stride 8), and on magnetic_tile (median 17 px at 224) shrinking scored image
#: AUROC 0.925 against 0.866 in 224 px tiles of a 480 px image (docs/performance.md).
MIN_DEFECT_PX = 8


def native_tiling(config: dict, tile: int, width: int, height: int, verb: str,
                  defect_side: float | None = None) -> tuple[dict, str]:
    """A family's settings for ``width``×``height`` images: tiles of ``tile`` px at (nearly) native resolution
    when the images are at least ``TILE_FROM`` times the tile, since shrinking them would erase small defects,
    unless labelled defects show they stay at least ``MIN_DEFECT_PX`` wide when shrunk (``defect_side``: their
    typical narrower side as a share of the image). Settings the user chose (``image_size`` or ``tile_size``)
    are kept; the note says what was chosen."""
    if "image_size" in config or "tile_size" in config:
        return config, ""
    side = max(width, height)
    if side < TILE_FROM * tile:
        return config, ""
    if defect_side is not None and defect_side * tile >= MIN_DEFECT_PX:
        return config, (f"images are {width}×{height}, but the labelled defects stay about "
                        f"{defect_side * tile:.0f} px wide at {tile} px, so the images are shrunk, not tiled "
                        "(set image_size and tile_size to tile them)")
    working = min(int(round(side / 16)) * 16, MAX_NATIVE_SIDE)
    capped = " (capped; set image_size to go higher)" if working < side - 8 else ""
    note = (f"images are {width}×{height}: {verb} them at {working} px{capped} in overlapping {tile} px "
            f"tiles instead of shrinking them to {tile} px (set image_size and tile_size to change this)")
    return {**config, "image_size": working, "tile_size": tile}, note


class TileGeometry:
    """Tile size and origins of a family that tiles, from its ``image_size``, ``tile_size`` and ``tile_overlap``
    settings: mixed into the detector so every tiling family cuts and stitches the same way."""

    config: dict
    image_size: int

    @property
    def tile(self) -> int:
        """Side of the network's input: ``tile_size`` when tiling, else ``image_size``."""
        size, tile = self.image_size, int(self.config["tile_size"])
        return tile if 0 < tile < size else size

    @property
    def origins(self) -> list[int]:
        """Tile origins along each axis of the working image (``[0]`` without tiling)."""
        return tile_origins(self.image_size, self.tile, float(self.config["tile_overlap"]))


def to_working_size(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 N×H×W×3 → uint8 N×size×size×3, resized exactly as the training job resizes training images."""
    if images.shape[1:3] == (size, size):
        return images
    return np.stack([resize(im, (size, size)) for im in images])


def tile_origins(size: int, tile: int, overlap: float) -> list[int]:
    """Top-left coordinates along one axis: steps of ``tile·(1−overlap)``, the last tile flush with the edge."""
    if tile <= 0 or tile >= size:
        return [0]
    if not 0.0 <= overlap < 1.0:
        msg = f"tile overlap must be in [0, 1), got {overlap}"
        raise ValueError(msg)
    step = max(1, int(round(tile * (1.0 - overlap))))
    origins = list(range(0, size - tile + 1, step))
    if origins[-1] != size - tile:
        origins.append(size - tile)
    return origins


def cut_tiles(images: np.ndarray, tile: int, origins: list[int]) -> np.ndarray:
    """N×S×S×3 → (N·T)×tile×tile×3, image by image, rows then columns (T = len(origins)²)."""
    if len(origins) == 1 and images.shape[1] == tile:
        return images
    tiles = [im[y : y + tile, x : x + tile] for im in images for y in origins for x in origins]
    return np.stack(tiles)


def stitch(patch_maps: np.ndarray, images: int, size: int, tile: int, origins: list[int]) -> np.ndarray:
    """Per-tile patch maps ((N·T)×h×w) → N×size×size maps, overlaps averaged."""
    tile_maps = np.stack([cv2.resize(m, (tile, tile), interpolation=cv2.INTER_LINEAR) for m in patch_maps])
    if len(origins) == 1 and size == tile:
        return tile_maps.reshape(images, size, size)
    per_image = len(origins) ** 2
    out = np.zeros((images, size, size), np.float32)
    counts = np.zeros((size, size), np.float32)
    for y in origins:
        for x in origins:
            counts[y : y + tile, x : x + tile] += 1.0
    for n in range(images):
        k = 0
        for y in origins:
            for x in origins:
                out[n, y : y + tile, x : x + tile] += tile_maps[n * per_image + k]
                k += 1
    return out / counts
