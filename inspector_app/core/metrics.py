"""Detection metrics used by ``evaluate``, calibration and the training wizard.

scikit-learn supplies the ROC and precision-recall curves (well tested, handles ties correctly); AUPRO has
no scikit-learn equivalent and is computed here with one pass of histogramming, so it stays fast on millions
of pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from sklearn.metrics import precision_recall_curve, roc_auc_score


def image_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve for image-level labels (1 = defect). NaN when only one class is present."""
    labels = np.asarray(labels).astype(bool)
    if labels.all() or not labels.any():
        return float("nan")
    return float(roc_auc_score(labels, np.asarray(scores, np.float64)))


def per_type_auroc(types: list[str], scores: np.ndarray, good_type: str = "good") -> dict[str, float]:
    """AUROC of each defect type against all good images."""
    types_arr = np.asarray(types)
    scores = np.asarray(scores, np.float64)
    good = types_arr == good_type
    result = {}
    for kind in sorted(set(types) - {good_type}):
        chosen = good | (types_arr == kind)
        result[kind] = image_auroc(types_arr[chosen] == kind, scores[chosen])
    return result


def pixel_auroc(masks: np.ndarray, maps: np.ndarray) -> float:
    """Pixel-level AUROC over every pixel of every image (masks are boolean or 0/255)."""
    return image_auroc(np.asarray(masks).reshape(-1) > 0, np.asarray(maps, np.float32).reshape(-1))


def aupro(masks: np.ndarray, maps: np.ndarray, max_fpr: float = 0.3, steps: int = 1000) -> float:
    """Area under the per-region-overlap curve up to ``max_fpr``, normalised to [0, 1].

    Each connected defect region counts equally, so a small scratch matters as much as a large stain.
    Thresholds are ``steps`` levels between the smallest and largest map value.
    """
    masks = np.asarray(masks) > 0
    maps = np.asarray(maps, np.float32)
    if masks.shape != maps.shape:
        msg = f"masks {masks.shape} and maps {maps.shape} must have the same shape"
        raise ValueError(msg)
    if not masks.any() or masks.all():
        return float("nan")
    edges = np.linspace(float(maps.min()), float(maps.max()), steps + 1)[1:-1]
    bins = np.searchsorted(edges, maps, side="right")  # 0..steps-1; higher bin = higher score
    # Pixels at or above threshold k are those in bins >= k: cumulative sums from the top.
    neg_counts = np.bincount(bins[~masks], minlength=steps)
    fpr = np.cumsum(neg_counts[::-1])[::-1] / max(int((~masks).sum()), 1)
    regions = np.zeros(masks.shape, np.int64)
    count = 0
    for i in range(masks.shape[0]):
        labelled, n = ndimage.label(masks[i])
        regions[i] = np.where(labelled > 0, labelled + count, 0)
        count += n
    inside = regions > 0
    flat = (regions[inside] - 1) * steps + bins[inside]
    per_region = np.bincount(flat, minlength=count * steps).reshape(count, steps)
    covered = np.cumsum(per_region[:, ::-1], axis=1)[:, ::-1] / per_region.sum(axis=1, keepdims=True)
    pro = covered.mean(axis=0)
    # fpr falls as the threshold rises; integrate PRO over FPR from 0 up to max_fpr.
    order = np.argsort(fpr)
    fpr_sorted, pro_sorted = np.r_[0.0, fpr[order]], np.r_[0.0, pro[order]]
    keep = fpr_sorted <= max_fpr
    xs = np.r_[fpr_sorted[keep], max_fpr]
    ys = np.r_[pro_sorted[keep], np.interp(max_fpr, fpr_sorted, pro_sorted)]
    return float(np.trapezoid(ys, xs) / max_fpr)


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray, sample_weight: np.ndarray | None = None,
                      above: float | None = None) -> tuple[float, float]:
    """The score threshold with the highest F1 (verdict = score >= threshold), and that F1; ``sample_weight``
    counts each image that many times (scikit-learn's weighted precision and recall), and ``above`` leaves
    out thresholds at or below it (unless none is above it)."""
    labels = np.asarray(labels).astype(bool)
    precision, recall, thresholds = precision_recall_curve(labels, np.asarray(scores, np.float64),
                                                           sample_weight=sample_weight)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    allowed = f1[:-1] if above is None or not (thresholds > above).any() else np.where(thresholds > above, f1[:-1], -1)
    best = int(np.argmax(allowed))
    return float(thresholds[best]), float(f1[best])


@dataclass(frozen=True)
class Confusion:
    """Counts at one threshold, with the rates an inspection engineer asks for."""

    true_pass: int
    false_alarm: int
    missed: int
    caught: int

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarm / max(self.true_pass + self.false_alarm, 1)

    @property
    def miss_rate(self) -> float:
        return self.missed / max(self.missed + self.caught, 1)


def confusion_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Confusion:
    """Confusion matrix of ``score >= threshold`` against labels (1 = defect)."""
    labels = np.asarray(labels).astype(bool)
    flagged = np.asarray(scores) >= threshold
    return Confusion(
        true_pass=int((~labels & ~flagged).sum()),
        false_alarm=int((~labels & flagged).sum()),
        missed=int((labels & ~flagged).sum()),
        caught=int((labels & flagged).sum()),
    )


@dataclass(frozen=True)
class MaskOverlap:
    """How well drawn regions match the true masks: pooled over every pixel of every image (so false
    regions on good images count), and the mean IoU of the defect images that have a non-empty mask."""

    dice: float
    iou: float
    mean_defect_iou: float
    defect_images: int

    def to_json(self) -> dict[str, float]:
        return {"dice": self.dice, "iou": self.iou, "mean_defect_iou": self.mean_defect_iou,
                "defect_images": self.defect_images}


def mask_overlap(masks: np.ndarray, drawn: np.ndarray) -> MaskOverlap:
    """Dice and IoU of the boolean regions ``drawn`` against ``masks`` (N×H×W each); NaN where undefined."""
    masks, drawn = np.asarray(masks) > 0, np.asarray(drawn, bool)
    if masks.shape != drawn.shape:
        msg = f"masks {masks.shape} and drawn regions {drawn.shape} must have the same shape"
        raise ValueError(msg)
    overlap = float(np.logical_and(masks, drawn).sum())
    union = float(np.logical_or(masks, drawn).sum())
    total = float(masks.sum() + drawn.sum())
    nan = float("nan")
    flat_masks, flat_drawn = masks.reshape(len(masks), -1), drawn.reshape(len(drawn), -1)
    marked = flat_masks.any(axis=1)
    per_image = (np.logical_and(flat_masks, flat_drawn).sum(axis=1)[marked]
                 / np.logical_or(flat_masks, flat_drawn).sum(axis=1)[marked])
    return MaskOverlap(dice=2 * overlap / total if total else nan, iou=overlap / union if union else nan,
                       mean_defect_iou=float(per_image.mean()) if per_image.size else nan,
                       defect_images=int(marked.sum()))
