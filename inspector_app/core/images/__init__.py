"""Every pixel conversion the app makes: files to RGB arrays, conversion, resizing, saving, colour.

Detectors, jobs and the GUI all see images the same way only if one package decides how a file becomes
pixels and how an anomaly map becomes colour. It uses numpy, OpenCV and Pillow only, no Qt, so the
command-line jobs run it on a headless server; turning an array into a ``QImage`` is ``gui/qimage.py``'s job.

Conventions: images are ``uint8`` RGB ``H×W×3`` (C-contiguous), maps are ``float32`` ``H×W``, sizes given as
a pair are ``(width, height)`` like OpenCV and Pillow.

Modules: ``decode`` (files to pictures and masks), ``convert`` (any array to RGB), ``resizing``, ``save``,
``colour`` (colour scale, heatmap layer and overlay, outlines, verdict colours).
"""

from __future__ import annotations

from inspector_app.core.images.colour import (
    FAIL_COLOUR,
    HEATMAP_VMAX,
    PASS_COLOUR,
    draw_mask_contours,
    heat_layer_bgra,
    heatmap_rgb,
    overlay_heatmap,
    rgb_to_bgrx,
    verdict_colour,
)
from inspector_app.core.images.convert import to_rgb_uint8
from inspector_app.core.images.decode import MAX_PIXELS, load_image, load_mask
from inspector_app.core.images.resizing import finite_map, resize, resize_map, shrink_map_by_max, thumbnail
from inspector_app.core.images.save import save_image

__all__ = [
    "FAIL_COLOUR",
    "HEATMAP_VMAX",
    "MAX_PIXELS",
    "PASS_COLOUR",
    "draw_mask_contours",
    "finite_map",
    "heat_layer_bgra",
    "heatmap_rgb",
    "load_image",
    "load_mask",
    "overlay_heatmap",
    "resize",
    "resize_map",
    "rgb_to_bgrx",
    "save_image",
    "shrink_map_by_max",
    "thumbnail",
    "to_rgb_uint8",
    "verdict_colour",
]
