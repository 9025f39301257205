"""The headless subcommands of ``inspector-app``: train, evaluate, infer, bench, export, models.

None of these import Qt, so they run on a server with no display. ``gui`` and ``demo`` are added by the
top-level :mod:`inspector_app.cli`, which sits above the layers.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

from inspector_app.core.calibration import MapKind
from inspector_app.core.datasets import IMAGE_SUFFIXES, open_dataset
from inspector_app.core.errors import ImageLoadError, InspectorError, TrainingCancelled, printable
from inspector_app.core.images import draw_mask_contours, load_image, overlay_heatmap, resize, save_image
from inspector_app.core.modelstore import ModelStore
from inspector_app.core.paths import data_dir
from inspector_app.detectors.base import Progress
from inspector_app.detectors.registry import FAMILIES

log = logging.getLogger(__name__)
EXIT_CANCELLED = 130


def add_headless_commands(sub: argparse._SubParsersAction) -> None:
    """Register train / evaluate / infer / bench / models on ``sub``."""
    p = sub.add_parser("train", help="train a new model version")
    p.add_argument("--family", choices=list(FAMILIES), help="model family (default: autoencoder)")
    p.add_argument("--data", action="append", default=[], help="dataset folder (MVTec or good/defect layout); repeatable")
    p.add_argument("--name", help="model name (default: the data folder's name)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--image-size", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any family setting, e.g. --set batch_size=32")
    p.add_argument("--val-fraction", type=float, help="share of the images held out for validation and calibration "
                   "(default 0.2)")
    p.add_argument("--test-fraction", type=float, help="families that learn from defects: share of each dataset "
                   "never trained on, for evaluate (default 0.2)")
    p.add_argument("--seed", type=int, help="seed of the split and the training (default 0)")
    p.add_argument("--version", help="version name (default v1, v2, ...)")
    p.add_argument("--notes")
    p.add_argument("--activate", action="store_true", help="make the new version the active model")
    p.add_argument("--extra-good", action="append", default=[], help="a text file listing more good images, one path a line")
    p.add_argument("--extra-defect", action="append", default=[],
                   help="a text file listing more defect images (e.g. confirmed in review), one path a line")
    p.add_argument("--target-false-alarm-rate", type=float, metavar="R",
                   help="share of good parts the threshold lets fail (default 0.01 = 1 %%)")
    p.add_argument("--threshold-objective", choices=["false_alarm_rate", "best_f1", "catch"],
                   help="what the threshold is chosen for (default: best_f1 when there are labelled defects to "
                        "calibrate on - a family that learns from defects, or a share of an MVTec test/ folder - "
                        "else false_alarm_rate; false_alarm_rate keeps the test/ folder whole for evaluate)")
    p.add_argument("--catch-share", type=float, metavar="S", help="with --threshold-objective catch: share of "
                   "validation defects that must fail (default 0.95)")
    p.add_argument("--spec", help="a JSON training spec (the wizard writes one); other options override it")
    p.add_argument("--json-progress", action="store_true", help="one JSON object per line on stdout")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("evaluate", help="image and pixel metrics of a model on a labelled dataset")
    p.add_argument("--model", help="NAME[@VERSION] (default: the active model)")
    p.add_argument("--data", required=True)
    p.add_argument("--same-size", action="store_true", help="resize to the model's input and batch (faster)")
    p.add_argument("--save", action="store_true", help="store the figures in the version's metadata")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("infer", help="score images and print verdicts")
    p.add_argument("paths", nargs="+", help="image files or folders")
    p.add_argument("--model")
    p.add_argument("--save-overlays", metavar="DIR")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_infer)

    p = sub.add_parser("bench", help="model latency and throughput on a folder of images")
    p.add_argument("--model")
    p.add_argument("--data", required=True, help="a folder of images, or a dataset (its test images are used)")
    p.add_argument("--count", type=int, default=64, help="images to load")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--stream", action="store_true",
                   help="also measure the live pipeline: stream vs model-only throughput, overlay time, launch time, memory")
    p.add_argument("--frames", type=int, default=10000, help="with --stream: frames for the memory figure (0 = skip)")
    p.add_argument("--soak", type=int, metavar="N", help="stream N frames through the reader and inference worker: "
                   "resident memory and p95 latency every 10 %% (a shift's worth: 100000)")
    p.add_argument("--training", action="store_true", help="seconds per epoch (or per fit) of each family's training on --data")
    p.add_argument("--epochs", type=int, default=2, help="with --training: epochs to time per family")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_bench)

    p = sub.add_parser("export", help="export a model for a line PC (SavedModel or TFLite, scorer, threshold)")
    p.add_argument("--model", help="NAME[@VERSION] (default: the active model)")
    p.add_argument("--format", required=True, choices=["savedmodel", "tflite"])
    p.add_argument("--out", help="a new folder (default: ./NAME-VERSION-FORMAT)")
    p.add_argument("--images", action="append", default=[], help="images or folders to check the export on "
                   "(default: the training dataset's test images, else generated demo parts)")
    p.add_argument("--count", type=int, default=8, help="images to check on")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("models", help="list model versions; activate or delete one")
    p.add_argument("--activate", metavar="NAME@VERSION")
    p.add_argument("--delete", metavar="NAME@VERSION")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_models)


# -- train ------------------------------------------------------------------------------------------------
def build_spec(args: argparse.Namespace) -> Any:
    """The ``--spec`` file's training spec (if any) with the command line's options laid over it."""
    from inspector_app.jobs.training_spec import TrainingSpec  # noqa: PLC0415

    data = [str(d) for d in args.data]
    if args.spec:
        spec = TrainingSpec.read(Path(args.spec))
        spec.data = data or spec.data
    elif data:
        spec = TrainingSpec(family="autoencoder", data=data, name=Path(data[0]).resolve().name)
    else:
        raise InspectorError("train needs --data FOLDER (or a --spec that names data)")
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise InspectorError(f"--set expects KEY=VALUE, got {item!r}")
        spec.config[key.strip()] = _parse_value(value)
    overrides = {"family": args.family, "name": args.name, "version": args.version, "notes": args.notes,
                 "val_fraction": args.val_fraction,
                 "test_fraction": args.test_fraction, "seed": args.seed,
                 "threshold_objective": args.threshold_objective,
                 "target_false_alarm_rate": args.target_false_alarm_rate, "catch_share": args.catch_share}
    for key, value in overrides.items():
        if value is not None:
            setattr(spec, key, value)
    if args.epochs is not None:
        spec.config["epochs"] = args.epochs
    if args.image_size is not None:
        spec.config["image_size"] = args.image_size
    spec.activate = spec.activate or args.activate
    spec.extra_good += _listed_files(args.extra_good)
    spec.extra_defect += _listed_files(args.extra_defect)
    return spec


def _listed_files(listings: list[str]) -> list[str]:
    """Image paths from text files that list one path a line."""
    paths: list[str] = []
    for listing in listings:
        try:
            text = Path(listing).read_text(encoding="utf-8")
        except OSError as exc:
            raise InspectorError(f"cannot read the list of images {listing}: {exc.strerror or exc}") from None
        paths += [line.strip() for line in text.splitlines() if line.strip()]
    return paths


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def cmd_train(args: argparse.Namespace, store: ModelStore) -> int:
    from inspector_app.jobs.progress_output import JsonLines, TerminalBar  # noqa: PLC0415
    from inspector_app.jobs.training import run_training  # noqa: PLC0415

    out = JsonLines() if args.json_progress else None
    progress = Progress(out if out else TerminalBar())

    def request_stop(signum: int, _frame: Any) -> None:
        log.warning("signal %d: cancelling training", signum)
        progress.stop()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        spec = build_spec(args)
        ref = run_training(spec, store, progress)
    except TrainingCancelled as exc:
        _report(out, "cancelled", str(exc))
        return EXIT_CANCELLED
    except (InspectorError, ValueError, OSError) as exc:
        _report(out, "error", str(exc))
        return 1
    if out:
        out.emit({"event": "done", "model": str(ref)})
    else:
        print(f"saved {ref}" + (" (active)" if store.active() == ref else ""))
    return 0


def _report(out: Any, event: str, message: str) -> None:
    if out:
        out.emit({"event": event, "message": message})
    print(f"{event}: {message}", file=sys.stderr)


# -- evaluate / infer / bench -----------------------------------------------------------------------------
def load_model(store: ModelStore, text: str | None) -> Any:
    from inspector_app.detectors.loaded_model import LoadedModel  # noqa: PLC0415

    ref = store.resolve(text) if text else store.active()
    if ref is None:
        raise InspectorError("no model given and no active model: use --model NAME[@VERSION]")
    return LoadedModel.load(store, ref)


def cmd_evaluate(args: argparse.Namespace, store: ModelStore) -> int:
    from inspector_app.jobs.evaluation import evaluate, format_table  # noqa: PLC0415

    model = load_model(store, args.model)
    result = evaluate(model, args.data, same_size=args.same_size)
    if args.save:
        meta = store.meta(model.ref)
        store.update_meta(model.ref, {"metrics": {**meta.get("metrics", {}), "evaluation": result.to_json()}})
    print(json.dumps(result.to_json(), indent=2) if args.json else format_table(result))
    return 0


def bench_files(path: Path, count: int) -> list[Path]:
    """Up to ``count`` images for a benchmark, spread over a dataset's test images or a folder's images."""
    if not path.exists():
        raise InspectorError(f"--data {path} does not exist")
    try:
        files = [sample.path for sample in open_dataset(path).evaluation_samples()]
    except InspectorError:
        files = image_files([str(path)])
    if not files:
        raise InspectorError(f"no images in {path}: give a folder of images or a dataset (MVTec or good/defect)")
    chosen = min(count, len(files))
    return [files[i * len(files) // chosen] for i in range(chosen)]


def image_files(paths: list[str]) -> list[Path]:
    """The image files named, and those found under the folders named (a file that vanished is still listed,
    so its error is reported with the others)."""
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            try:
                files += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            except OSError as exc:
                raise InspectorError(f"cannot list {path}: {exc.strerror or exc}") from None
        else:
            files.append(path)
    return files


def cmd_infer(args: argparse.Namespace, store: ModelStore) -> int:
    files = image_files(args.paths)
    if not files:
        raise InspectorError(f"no images found in {', '.join(args.paths)} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    out_dir = Path(args.save_overlays) if args.save_overlays else None
    if out_dir:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InspectorError(f"--save-overlays {out_dir}: cannot make that folder ({exc.strerror or exc})") from None
    model = load_model(store, args.model)
    failures = 0
    for path in files:
        name = printable(path)  # a name that is not UTF-8 must not crash the print of its verdict
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            failures += 1
            print(json.dumps({"file": name, "error": exc.reason}) if args.json else f"{name}\tERROR\t{exc.reason}")
            continue
        result = model.inspect(image[None])
        failed = bool(result.failed[0])
        verdict = "FAIL" if failed else "PASS"
        if args.json:
            print(json.dumps({"file": name, "score": float(result.scores[0]),
                              "normalised": float(result.normalised_scores[0]), "verdict": verdict}))
        else:
            ratio = result.scores[0] / model.calibration.threshold
            print(f"{name}\t{verdict}\tscore {result.scores[0]:.5g}\t({ratio:.2f} × threshold)")
        if out_dir:
            drawn = (draw_mask_contours(image, result.maps[0], level=1.0) if model.map_kind == MapKind.MASK
                     else overlay_heatmap(image, result.maps[0]))
            try:
                save_image(out_dir / f"{path.stem}_{verdict.lower()}.png", drawn)
            except OSError as exc:  # a full disk loses the overlay, not the verdicts still to come
                failures += 1
                print(f"{name}\tERROR\toverlay not saved: {exc.strerror or exc}", file=sys.stderr)
    return 1 if failures else 0


def cmd_bench(args: argparse.Namespace, store: ModelStore) -> int:
    from inspector_app.jobs.bench import bench_model  # noqa: PLC0415

    if args.training:
        from inspector_app.jobs.train_bench import bench_training, format_training_bench  # noqa: PLC0415

        report = bench_training(args.data, epochs=args.epochs)
        print(json.dumps(report, indent=2) if args.json else format_training_bench(report))
        return 0
    files = bench_files(Path(args.data), args.count)
    model = load_model(store, args.model)
    size = model.detector.image_size  # a folder may mix sizes; one batch needs one size
    images = np.stack([resize(load_image(f), size) for f in files])
    figures = bench_model(model, images, repeats=args.repeats)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"model {figures['model']}  images {tuple(figures['image_shape'])}")
        print(f"  batch 1: median {figures['batch1_median_ms']:.1f} ms, p95 {figures['batch1_p95_ms']:.1f} ms "
              f"({figures['batch1_images_per_s']:.1f} images/s)")
        print(f"  batch 8: {figures['batch8_images_per_s']:.1f} images/s")
        print(f"  resident memory {figures['resident_mb']:.0f} MiB")
    return 0


# -- models -----------------------------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace, store: ModelStore) -> int:
    from inspector_app.jobs.export import check_images_for, export_model  # noqa: PLC0415

    model = load_model(store, args.model)
    out = Path(args.out or f"{model.ref.name}-{model.ref.version}-{args.format}")
    images, source = check_images_for(model, image_files(args.images), args.count)
    check = export_model(model, args.format, out, images)
    print(f"exported {model.ref} ({model.family}) as {args.format} to {out}")
    print(f"checked on {source}: largest score difference {check.max_difference:.2e} × threshold "
          f"(tolerance {check.tolerance:g}), verdicts agree on {check.verdicts_agree}/{check.images}")
    if not check.passed:
        print(f"error: the export scores differently from the app (over the tolerance); do not use {out}",
              file=sys.stderr)
        return 1
    print(f"try it: python {out / 'line_verdict.py'} {out} IMAGE.png")
    return 0


def cmd_models(args: argparse.Namespace, store: ModelStore) -> int:
    if args.activate:
        ref = store.resolve(args.activate)
        load_model(store, str(ref))  # a version that cannot load must never become the active model
        store.activate(ref)
        print(f"active model: {ref}")
        return 0
    if args.delete:
        ref = store.resolve(args.delete)
        store.delete(ref)
        print(f"deleted {ref}")
        return 0
    active = store.active()
    rows = []
    for ref in store.all_refs():
        try:
            meta = store.meta(ref)
        except InspectorError as exc:
            rows.append({"model": str(ref), "error": str(exc)})
            continue
        evaluation = meta.get("metrics", {}).get("evaluation", {})
        rows.append({
            "model": str(ref), "family": meta["family"], "created_at": meta.get("created_at"),
            "active": ref == active, "threshold": meta["calibration"]["threshold"],
            "image_auroc": evaluation.get("image_auroc"), "pixel_auroc": evaluation.get("pixel_auroc"),
        })
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no models yet in {store.models_dir}")
    for row in rows:
        if "error" in row:
            print(f"  {row['model']:<28} unreadable: {row['error']}")
            continue
        auc = "" if row["image_auroc"] is None else f" image AUROC {row['image_auroc']:.3f}"
        pix = "" if row["pixel_auroc"] is None else f" pixel AUROC {row['pixel_auroc']:.3f}"
        mark = "*" if row["active"] else " "
        print(f"{mark} {row['model']:<28} {row['family']:<14} {row['created_at']}{auc}{pix}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a headless command; user-facing errors print one line and exit 1."""
    try:
        store = ModelStore(data_dir(args.data_dir))
        return int(args.handler(args, store))
    except InspectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
