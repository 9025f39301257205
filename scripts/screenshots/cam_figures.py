"""Dev tool (not a test): a grid of class-activation maps on defect images the CAM classifier never saw.

    python scripts/screenshots/cam_figures.py --out docs/screenshots/cam_generated_parts.png
    python scripts/screenshots/cam_figures.py --data ../shared/data/crack_patches --set epochs=6 --out /tmp/cam_cracks.png
    python scripts/screenshots/cam_figures.py --data-dir D --model crack@v1 --data ../shared/data/crack_patches \
        --out /tmp/cam_cracks.png

Each pair is the picture and the same picture with the map laid over it by ``core.images.overlay_heatmap``,
the layer the window blends (same colour scale, the window's default opacity); under it the image's label,
its score ÷ threshold and the verdict. Images come from the part of the dataset the model was neither fitted
nor validated on (its split record in ``meta.json``), spread evenly over the sorted list.

Without ``--data`` the images are the app's own generated flanges (``core.demo_parts``) with drawn scratches,
holes and stains: that figure is ``docs/screenshots/cam_generated_parts.png``. A figure of
``../shared/data/crack_patches`` stays outside the repository: that folder's README forbids copying its images
or anything derived from them into it. Without ``--model`` a cam_classifier is trained first (in this
process, one training at a time) into ``--data-dir`` (a temporary folder when not given), and its wall time
printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from inspector_app.core.calibration import EXPLANATION_PERCENTILE
from inspector_app.core.datasets import Sample, open_dataset
from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.images import HEATMAP_VMAX, heatmap_rgb, load_image, overlay_heatmap, resize, save_image
from inspector_app.core.modelstore import ModelStore
from inspector_app.detectors.base import Progress
from inspector_app.detectors.loaded_model import LoadedModel
from inspector_app.jobs.evaluation import unseen_samples
from inspector_app.jobs.training import run_training
from inspector_app.jobs.training_spec import TrainingSpec

log = logging.getLogger("cam_figures")
#: The heatmap opacity the window starts with (its toolbar slider at 55).
WINDOW_OPACITY = 0.55
#: Generated parts: enough per kind that the 20 % never trained on holds several of each.
GENERATED_GOOD, GENERATED_PER_KIND, GENERATED_SIZE = 90, 30, 224
#: A quick training on generated parts; the family's defaults otherwise (Lite0 at 224 px).
GENERATED_CONFIG = {"epochs": 20}
CAPTION_HEIGHT, GAP, MARGIN = 34, 8, 12


def generated_parts(folder: Path) -> Path:
    """Good flanges and flanges with each kind of drawn defect, in the plain layout (written once)."""
    if (folder / "done").is_file():
        return folder
    for sub in ["good", *(f"defect/{kind}" for kind in DEFECT_KINDS)]:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(GENERATED_GOOD):
        save_image(folder / "good" / f"part_{i:03d}.png", render_part(3000 + i, GENERATED_SIZE)[0])
    for k, kind in enumerate(DEFECT_KINDS):
        for i in range(GENERATED_PER_KIND):
            image, _ = render_part(4000 + 100 * k + i, GENERATED_SIZE, defect=kind)
            save_image(folder / "defect" / kind / f"{kind}_{i:02d}.png", image)
    (folder / "done").write_text("generated\n", encoding="utf-8")
    return folder


def parse_settings(pairs: list[str]) -> dict:
    """``KEY=VALUE`` pairs as a config; values read as JSON where they parse (numbers, booleans)."""
    config = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            config[key] = json.loads(value)
        except json.JSONDecodeError:
            config[key] = value
    return config


def train(store: ModelStore, data: Path, config: dict) -> str:
    """Train a cam_classifier on ``data``; returns ``name@version`` and prints the wall time."""
    def show(fields: dict) -> None:
        if "epoch" in fields and "loss" in fields:
            log.info("epoch %s/%s loss %.4f", fields["epoch"], fields.get("epochs"), fields["loss"])
        elif fields.get("message"):
            log.info("%s: %s", fields.get("stage", ""), fields["message"])

    started = time.monotonic()
    ref = run_training(TrainingSpec("cam_classifier", [str(data)], "cam-figure", config), store, Progress(show))
    print(f"trained {ref} on {data} in {time.monotonic() - started:.0f} s wall ({config})")
    return str(ref)


def spread(samples: list[Sample], count: int) -> list[Sample]:
    """``count`` samples evenly spaced over the sorted list (every defect kind gets its turn)."""
    samples = sorted(samples, key=lambda s: s.path.as_posix())
    count = min(count, len(samples))
    return [samples[i * len(samples) // count] for i in range(count)]


def font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def panel(model: LoadedModel, sample: Sample, cell: int) -> Image.Image:
    """Picture | overlay with the caption under them."""
    image = load_image(sample.path)
    result = model.inspect(image[None])
    drawn = overlay_heatmap(image, result.maps[0], WINDOW_OPACITY)
    pair = np.concatenate([resize(image, cell), np.full((cell, GAP, 3), 255, np.uint8), resize(drawn, cell)], axis=1)
    out = Image.new("RGB", (pair.shape[1], cell + CAPTION_HEIGHT), "white")
    out.paste(Image.fromarray(pair), (0, 0))
    ratio = float(result.scores[0]) / model.calibration.threshold
    verdict = "FAIL" if bool(result.failed[0]) else "PASS"
    label = sample.defect_type if sample.label == "defect" else "good"
    text = f"{label} {sample.path.stem}: score/threshold {ratio:.2f}, {verdict}"  # ASCII: the default font's set
    ImageDraw.Draw(out).text((2, cell + 6), text, fill=(0, 0, 0), font=font(15))
    peak = float(result.maps[0].max())
    log.info("%s %s: score %.4f (%.2f × threshold) %s, map peak %.2f", label, sample.path.name,
             float(result.scores[0]), ratio, verdict, peak)
    return out


def colour_bar(width: int) -> Image.Image:
    """The fixed scale from 0 to HEATMAP_VMAX, the threshold's jump to yellow marked."""
    bar = heatmap_rgb(np.tile(np.linspace(0.0, HEATMAP_VMAX, width, dtype=np.float32), (14, 1)))
    out = Image.new("RGB", (width, 34), "white")
    out.paste(Image.fromarray(bar), (0, 0))
    draw = ImageDraw.Draw(out)
    small = font(13)
    draw.text((0, 16), "0", fill=(0, 0, 0), font=small)
    draw.text((width // 2 - 4, 16), "1.0", fill=(0, 0, 0), font=small)
    draw.text((width - 30, 16), f"{HEATMAP_VMAX:.1f}", fill=(0, 0, 0), font=small)
    return out


def wrapped(lines: list[str], width: int, face: ImageFont.ImageFont) -> list[str]:
    """The lines broken at spaces so that each fits ``width`` pixels."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    out = []
    for line in lines:
        current = ""
        for word in line.split(" "):
            trial = f"{current} {word}".strip()
            if current and measure.textlength(trial, font=face) > width:
                out.append(current)
                current = word
            else:
                current = trial
        out.append(current)
    return out


def figure(model: LoadedModel, samples: list[Sample], title: list[str], columns: int, cell: int) -> Image.Image:
    panels = [panel(model, s, cell) for s in samples]
    width, height = panels[0].size
    rows = -(-len(panels) // columns)
    bar = colour_bar(min(360, columns * width))
    full_width = 2 * MARGIN + columns * width + (columns - 1) * 2 * GAP
    title = wrapped(title, full_width - 2 * MARGIN, font(16))
    head = 22 * len(title) + bar.height + 10
    canvas = Image.new("RGB", (full_width, 2 * MARGIN + head + rows * height + (rows - 1) * GAP), "white")
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(title):
        draw.text((MARGIN, MARGIN + 22 * i), line, fill=(0, 0, 0), font=font(16))
    canvas.paste(bar, (MARGIN, MARGIN + 22 * len(title) + 4))
    for i, image in enumerate(panels):
        row, col = divmod(i, columns)
        canvas.paste(image, (MARGIN + col * (width + 2 * GAP), MARGIN + head + row * (height + GAP)))
    return canvas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--data", help="dataset (plain good/defect or MVTec); default: generated parts")
    parser.add_argument("--data-dir", help="model store to train into or to take --model from (default: a temp dir)")
    parser.add_argument("--model", help="name@version of a trained cam_classifier in --data-dir (else one is trained)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="training setting")
    parser.add_argument("--defects", type=int, default=6, help="unseen defect images shown")
    parser.add_argument("--good", type=int, default=2, help="unseen good images shown")
    parser.add_argument("--columns", type=int, default=2, help="image pairs per row")
    parser.add_argument("--cell", type=int, default=224, help="side of each drawn picture in pixels")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    home = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="cam_figures_"))
    data = Path(args.data) if args.data else generated_parts(home / "generated_parts")
    store = ModelStore(home)
    config = {**({} if args.data else GENERATED_CONFIG), **parse_settings(args.set)}
    ref = args.model or train(store, data, config)
    model = LoadedModel.load(store, store.resolve(ref))
    if model.family != "cam_classifier":
        raise SystemExit(f"{ref} is a {model.family} model; this figure is for cam_classifier")
    samples, left_out = unseen_samples(model.meta, open_dataset(data))
    chosen = (spread([s for s in samples if s.label == "defect"], args.defects)
              + spread([s for s in samples if s.label == "good"], args.good))
    if not chosen:
        raise SystemExit(f"{data}: no image left that {ref} was not trained or validated on")
    config_used = model.meta["config"]
    title = [
        f"CAM classifier {ref} ({config_used['backbone']}, {config_used['image_size']} px, "
        f"{model.meta['fit']['epochs_run']} epochs, SGD lr {config_used['learning_rate']:g}) on {'generated parts' if not args.data else data.name}: "
        f"images it never saw ({len(samples)} unseen, {left_out} trained or validated on)",
        "each pair: picture | class-activation map as the window draws it; 1.0 on the scale = the "
        f"{EXPLANATION_PERCENTILE:g}th percentile of the validation maps; under each, its label, score / threshold "
        "and verdict",
    ]
    canvas = figure(model, chosen, title, args.columns, args.cell)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    canvas.save(args.out, optimize=True)
    print(f"wrote {args.out} ({len(chosen)} images of {len(samples)} unseen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
