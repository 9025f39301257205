"""Post-processing shared by heatmap families: error maps, smoothing, robust scores. Pure numpy/OpenCV."""

from __future__ import annotations

import cv2
import numpy as np


def smooth_maps(maps: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-smooth each map; isolated noisy pixels should not decide a verdict."""
    if sigma <= 0:
        return maps.astype(np.float32, copy=False)
    return np.stack([cv2.GaussianBlur(m.astype(np.float32), (0, 0), sigma) for m in maps])


def robust_scores(maps: np.ndarray, percentile: float) -> np.ndarray:
    """One score per map: a high percentile, so a small defect counts but a single hot pixel does not."""
    flat = maps.reshape(len(maps), -1)
    return np.percentile(flat, percentile, axis=1).astype(np.float32)


def upsample_maps(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of every map to the caller's image size."""
    if maps.shape[1:] == (height, width):
        return maps
    return np.stack([cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR) for m in maps])


def ssim_error_maps(a: np.ndarray, b: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """1 − local SSIM between two batches of images in [0, 1] (N×H×W×C), averaged over channels.

    Structural differences (edges, texture breaks) show up even where the mean brightness is the same,
    which squared error alone misses.
    """
    c1, c2 = 0.01**2, 0.03**2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (0, 0), sigma)

    out = np.empty(a.shape[:3], np.float32)
    for i in range(len(a)):
        total = np.zeros(a.shape[1:3], np.float32)
        for c in range(a.shape[3]):
            x, y = a[i, ..., c].astype(np.float32), b[i, ..., c].astype(np.float32)
            mx, my = blur(x), blur(y)
            vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
            ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
            total += 1.0 - ssim
        out[i] = total / a.shape[3]
    return out
