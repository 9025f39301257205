"""The scoring behind ``line_verdict.py``: an ``inspector-app export`` folder turned into scores with numpy and
TensorFlow alone (a TFLite export needs only numpy and the LiteRT interpreter: ``pip install ai-edge-litert``).

From a line program: ``failed, score, normalised = LineModel(folder).verdict(rgb)`` with ``rgb`` a uint8 H×W×3
RGB array. ``model.json`` says everything: the preprocessing, the networks, the scoring steps after them, the
threshold. Each step below mirrors what the app computes with OpenCV (area/bilinear resizing, Gaussian blur with
mirrored borders), so scores agree with the app's to the tolerance printed by ``inspector-app export``.
"""

import json
from pathlib import Path

import numpy as np


class LineModel:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.spec = json.loads((self.folder / "model.json").read_text(encoding="utf-8"))
        self.networks = {role: _network(self.folder / net["file"]) for role, net in self.spec["networks"].items()}
        self.arrays = {name: np.load(self.folder / f"{name}.npy", allow_pickle=False) for name in self.spec["arrays"]}
        self._fitted = {}

    def verdict(self, image):
        """(failed, raw score, score on the app's scale: 0 = typical good part, 1.0 = the threshold)."""
        score = self.score(image)[0]
        cal = self.spec["calibration"]
        return score >= cal["threshold"], score, (score - cal["score_low"]) / (cal["threshold"] - cal["score_low"])

    def score(self, image):
        """uint8 H×W×3 RGB -> (raw score, anomaly map at the working size)."""
        values = {"input": self._preprocess(np.asarray(image))}
        for step in self.spec["scorer"]:
            op, x = step["op"], values.get(step.get("input"))
            if op == "network":  # a converted network on the whole batch of tiles
                out = self.networks[step["network"]](x)
            elif op == "standardise":
                out = (x - self.arrays[step["mean"]]) / self.arrays[step["std"]]
            elif op == "reconstruction_error":  # the autoencoder's per-pixel error, summed over its metrics
                a, b = values[step["input"]], values[step["rebuilt"]]
                out = 0.0
                if "l2" in step["metric"]:
                    out = out + np.mean((a - b) ** 2, axis=-1) * step["l2_scale"]
                if "ssim" in step["metric"]:
                    out = out + _ssim_error(a, b)
            elif op == "nearest_distance":  # patch memory: distance to the closest remembered patch
                out = _nearest_distance(x, self.arrays[step["bank"]])
            elif op == "resize_bilinear":
                out = np.stack([_resample(m, step["size"], step["size"], "linear") for m in x])
            elif op == "stitch_tiles":  # tile maps -> one map at the working size, overlaps averaged
                size, tile, origins = step["size"], step["tile"], step["origins"]
                total, count = np.zeros((size, size), np.float32), np.zeros((size, size), np.float32)
                corners = [(y, x0) for y in origins for x0 in origins]
                for (y, x0), m in zip(corners, x):
                    total[y : y + tile, x0 : x0 + tile] += _resample(m, tile, tile, "linear")
                    count[y : y + tile, x0 : x0 + tile] += 1.0
                out = (total / count)[None]
            elif op == "gaussian_blur":
                out = np.stack([_blur(m, step["sigma"]) for m in x]) if step["sigma"] > 0 else x
            elif op == "largest_region_area":  # U-Net: pixels of the largest region at the contour level
                out = np.array([_largest_region_area(m, step["level"]) or m.max() for m in x])  # none: the peak
            elif op == "unit_rows":  # embeddings scaled to length 1
                out = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
            elif op == "cosine_distance":  # 1 - the best cosine to a row of arrays[to] (unit rows)
                out = 1.0 - (x @ self.arrays[step["to"]].T).max(axis=1)
            elif op == "local_outlier_factor":  # scikit-learn's LOF (novelty mode) among arrays[normal]
                out = self._lof(step["normal"], step["neighbours"]).factor(x)
            elif op == "score":  # a high percentile of the map (100 = its maximum)
                return float(np.percentile(x.reshape(-1), step["percentile"])), x[0]
            elif op == "score_value":  # the score computed by an earlier step; the map when one is exported
                found = values.get(step.get("map"))
                return float(x.reshape(-1)[0]), None if found is None else found[0]
            else:
                raise ValueError(f"unknown scoring step {op!r}: this script is older than the export")
            values[step["output"]] = np.asarray(out, np.float32)
        raise ValueError("model.json's scorer has no score step")

    def _lof(self, name, neighbours):
        """The outlier factor of the normal embeddings ``name``, built once per model."""
        key = (name, neighbours)
        if key not in self._fitted:
            self._fitted[key] = _OutlierFactor(self.arrays[name], neighbours)
        return self._fitted[key]

    def _preprocess(self, image):
        """Resize to the working size as the app does (OpenCV's area resize, rounded to uint8), scale, colour,
        then cut the network's tiles (one tile when the family does not tile)."""
        pre = self.spec["preprocessing"]
        size, tile, origins = pre["working_size"], pre["size"][0], pre["tile_origins"]
        x = image.astype(np.float32)
        if image.shape[:2] != (size, size):
            kind = "linear" if size > min(image.shape[:2]) else "area"
            x = np.clip(np.floor(_resample(x, size, size, kind) + 0.5), 0, 255)  # OpenCV rounds halves up
        x = x / 255.0 if pre["scale"] == "0..1" else x
        if pre["colour"] == "grey":
            x = x @ np.array([0.299, 0.587, 0.114], np.float32)[:, None]
        return np.stack([x[y : y + tile, x0 : x0 + tile] for y in origins for x0 in origins]).astype(np.float32)


def _network(path):
    """A converted network as a numpy -> numpy function: a SavedModel folder or a .tflite file."""
    if path.suffix != ".tflite":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))
        return lambda x: loaded.run(tf.constant(x)).numpy()
    try:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
    except ImportError:  # TensorFlow's own copy still works, but warns that it moved to ai_edge_litert
        import warnings

        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*tf.lite.Interpreter is deprecated", UserWarning)
            interpreter = tf.lite.Interpreter(model_path=str(path))

    def run(x):
        (given,), (result,) = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.resize_tensor_input(given["index"], x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], x)
        interpreter.invoke()
        return interpreter.get_tensor(result["index"]).copy()

    return run


def _axis_weights(n_in, n_out, kind):
    """n_out×n_in matrix resampling one axis as OpenCV does: "area" averages the covered source pixels
    (shrinking), "linear" interpolates between the two nearest pixel centres, clamped at the edges."""
    w = np.zeros((n_out, n_in), np.float64)
    scale = n_in / n_out
    for j in range(n_out):
        if kind == "area":
            start, end = j * scale, (j + 1) * scale
            for i in range(int(np.floor(start)), min(int(np.ceil(end)), n_in)):
                w[j, i] = (min(end, i + 1) - max(start, i)) / scale
        else:
            src = max((j + 0.5) * scale - 0.5, 0.0)
            i = min(int(np.floor(src)), n_in - 1)
            frac = src - i if i < n_in - 1 else 0.0
            w[j, i] += 1.0 - frac
            w[j, min(i + 1, n_in - 1)] += frac
    return w


def _resample(m, height, width, kind):
    """Resize H×W or H×W×C with separable axis matrices."""
    rows, cols = _axis_weights(m.shape[0], height, kind), _axis_weights(m.shape[1], width, kind)
    return np.einsum("ab,bc...,dc->ad...", rows, m.astype(np.float64), cols).astype(np.float32)


def _blur_matrix(n, sigma):
    """OpenCV's Gaussian blur of one axis (kernel of 2·round(4σ)+1 taps, borders mirrored without repeating
    the edge pixel) as an n×n matrix."""
    size = int(np.floor(sigma * 8 + 1 + 0.5)) | 1
    offsets = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel /= kernel.sum()
    period = max(2 * (n - 1), 1)
    w = np.zeros((n, n), np.float64)
    for j in range(n):
        for k, offset in zip(kernel, offsets):
            i = int(j + offset) % period
            w[j, i if i < n else period - i] += k
    return w


def _blur(m, sigma):
    """Gaussian blur of one H×W map (float32)."""
    return (_blur_matrix(m.shape[0], sigma) @ m.astype(np.float64) @ _blur_matrix(m.shape[1], sigma).T).astype(np.float32)


def _ssim_error(a, b, sigma=1.5):
    """1 − local SSIM of two N×H×W×C batches in [0, 1], averaged over channels."""
    c1, c2 = 0.01**2, 0.03**2
    out = np.zeros(a.shape[:3], np.float32)
    for n in range(len(a)):
        for c in range(a.shape[3]):
            x, y = a[n, ..., c], b[n, ..., c]
            mx, my = _blur(x, sigma), _blur(y, sigma)
            vx, vy, cov = _blur(x * x, sigma) - mx * mx, _blur(y * y, sigma) - my * my, _blur(x * y, sigma) - mx * my
            out[n] += 1.0 - (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return out / a.shape[3]


def _nearest_distance(features, bank, chunk=8192):
    """Euclidean distance of every feature vector (…×D) to its nearest row of the bank (M×D)."""
    queries = features.reshape(-1, features.shape[-1])
    nearest = np.full(len(queries), np.inf, np.float32)
    query_sq = np.einsum("ij,ij->i", queries, queries)[:, None]
    for start in range(0, len(bank), chunk):
        rows = bank[start : start + chunk]
        distances = query_sq - 2.0 * (queries @ rows.T) + np.einsum("ij,ij->i", rows, rows)[None, :]
        nearest = np.minimum(nearest, distances.min(axis=1))
    return np.sqrt(np.maximum(nearest, 0.0)).reshape(features.shape[:-1])


def _largest_region_area(m, level):
    """Pixels in the largest 8-connected region of ``m >= level`` (0 when none), as OpenCV's
    connectedComponentsWithStats counts them: labels hooked to the smallest neighbouring label, then
    pointer-jumped, until no region merges any more."""
    inside = (m >= level).ravel()
    if not inside.any():
        return 0
    h, w = m.shape
    none = h * w  # the label of pixels outside every region, larger than any pixel's index
    parent = np.append(np.where(inside, np.arange(none), none), none)
    while True:
        labels = np.pad(parent[:-1].reshape(h, w), 1, constant_values=none)
        lowest = np.min([labels[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0).ravel()
        before = parent.copy()
        np.minimum.at(parent, parent[:-1][inside], lowest[inside])  # each region's root joins its lowest neighbour
        while True:  # every pixel to its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
        if np.array_equal(parent, before):
            return int(np.bincount(parent[:-1][inside]).max())


class _OutlierFactor:
    """scikit-learn's ``LocalOutlierFactor(n_neighbors=k, novelty=True).fit(normal).score_samples``, negated:
    the mean, over a query's k nearest normal rows, of their local reachability density divided by the
    query's. A row's density is 1 / (1e-10 + mean reachability distance to its k nearest other rows), where
    reaching row o from x costs max(|x - o|, o's distance to its own k-th nearest other row)."""

    def __init__(self, normal, k):
        self.normal, self.k = normal.astype(np.float64), k
        distances = self._distances(self.normal)
        np.fill_diagonal(distances, np.inf)  # a normal row is not its own neighbour
        self.nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
        near = np.take_along_axis(distances, self.nearest, axis=1)
        self.k_distance = near[:, -1]
        self.density = self._density(near, self.nearest)

    def _distances(self, x):
        """Euclidean distances of x's rows to every normal row, from the differences (exact for close rows)."""
        return np.stack([np.sqrt(((self.normal - row) ** 2).sum(axis=1)) for row in x])

    def _density(self, distances, nearest):
        return 1.0 / (np.mean(np.maximum(distances, self.k_distance[nearest]), axis=1) + 1e-10)

    def factor(self, x):
        distances = self._distances(np.asarray(x, np.float64))
        nearest = np.argsort(distances, axis=1, kind="stable")[:, : self.k]
        density = self._density(np.take_along_axis(distances, nearest, axis=1), nearest)
        return np.mean(self.density[nearest] / density[:, None], axis=1)

