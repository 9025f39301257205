"""``inspector-app``: the one entry point. Sits above the layers so ``gui``/``demo`` can open the window
while the headless commands (in :mod:`inspector_app.jobs.commands`) never import Qt."""

from __future__ import annotations

import argparse
import logging
import sys
from types import ModuleType

from inspector_app import __version__


def build_parser() -> argparse.ArgumentParser:
    from inspector_app.jobs.commands import add_headless_commands  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="inspector-app", description="Offline visual-inspection workstation.")
    parser.add_argument("--version", action="version", version=f"inspector-app {__version__}")
    parser.add_argument("--data-dir", help="where models and captures live (default: $INSPECTOR_APP_HOME or the platform's data folder)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command")
    gui = sub.add_parser("gui", help="open the inspection window (the default)")
    gui.add_argument("--source", help="folder, video file, camera:N or URL to start with")
    gui.add_argument("--model", help="NAME[@VERSION] to start with")
    demo = sub.add_parser("demo", help="open the window on built-in generated parts (prepares a demo model once)")
    demo.add_argument("--console", action="store_true", help="print verdicts on the terminal instead of opening the window")
    demo.add_argument("--frames", type=int, default=0, help="with --console: stop after N frames (0 = all demo parts)")
    demo.add_argument("--prepare", action="store_true", help="only make the demo parts and model (JSON progress lines)")
    add_headless_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from inspector_app.core.errors import InspectorError  # noqa: PLC0415

    try:
        return _dispatch(args)
    except InspectorError as exc:  # a user's mistake (a data folder that is a file...) is one line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    command = args.command or "gui"
    if command == "demo" and args.prepare:
        from inspector_app.jobs.demo import run_prepare  # noqa: PLC0415

        return run_prepare(args.data_dir)
    if command == "demo" and args.console:
        from inspector_app.jobs.demo import run_console_demo  # noqa: PLC0415

        return run_console_demo(args.data_dir, args.frames)
    if command in {"gui", "demo"}:
        from inspector_app.gui.app import run_gui  # noqa: PLC0415

        return run_gui(args, demo=command == "demo")
    if command == "bench" and args.stream:
        return _stream_bench(args)
    if command == "bench" and args.soak:
        return _soak_bench(args)
    from inspector_app.jobs.commands import run  # noqa: PLC0415

    return run(args)


def _load_stream_bench(module: str = "stream_bench") -> ModuleType | None:
    """``benchmarks/<module>.py`` (the stream bench by default) from the source checkout this package runs from,
    or None.

    The bench lives beside the package in the repository, not in the installed wheel, so an editable
    install or ``python -m inspector_app`` in a clone finds it and an installed wheel does not.
    """
    import importlib  # noqa: PLC0415

    from pathlib import Path  # noqa: PLC0415

    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / "benchmarks" / f"{module}.py").is_file():
        return None
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    return importlib.import_module(f"benchmarks.{module}")


def _stream_bench(args: argparse.Namespace) -> int:
    """``bench --stream`` needs the GUI's threads, so it is dispatched here, above the layers."""
    import json  # noqa: PLC0415

    from pathlib import Path  # noqa: PLC0415

    from inspector_app.core.errors import InspectorError  # noqa: PLC0415
    from inspector_app.core.modelstore import ModelStore  # noqa: PLC0415
    from inspector_app.core.paths import data_dir  # noqa: PLC0415
    from inspector_app.detectors.common.runtime import reserve_core_for_display  # noqa: PLC0415
    from inspector_app.jobs.commands import bench_files, load_model  # noqa: PLC0415

    bench = _load_stream_bench()
    if bench is None:
        print("error: bench --stream runs benchmarks/stream_bench.py, which is part of the source repository and "
              "not of the installed package: run it from a clone (an editable install, or python -m inspector_app)",
              file=sys.stderr)
        return 1
    on_inference_cores, run_stream_bench = bench.on_inference_cores, bench.run_stream_bench
    store = ModelStore(data_dir(args.data_dir))
    try:
        files = bench_files(Path(args.data), args.count)
        # As the window's worker does: TensorFlow starts (and pins) its threads on the inference cores.
        threads, model = on_inference_cores(lambda: (reserve_core_for_display(), load_model(store, args.model)))
    except InspectorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    figures = run_stream_bench(store, model, files, args.frames)
    figures["inference_threads"] = threads
    print(json.dumps(figures, indent=2))
    return 0


def _soak_bench(args: argparse.Namespace) -> int:
    """``bench --soak N`` runs the window's reader and worker threads, so it is dispatched here, above the layers."""
    import json  # noqa: PLC0415

    from pathlib import Path  # noqa: PLC0415

    from inspector_app.core.modelstore import ModelStore  # noqa: PLC0415
    from inspector_app.core.paths import data_dir  # noqa: PLC0415
    from inspector_app.jobs.commands import bench_files  # noqa: PLC0415

    bench = _load_stream_bench("soak_bench")
    if bench is None:
        print("error: bench --soak runs benchmarks/soak_bench.py, which is part of the source repository: run it "
              "from a clone (an editable install, or python -m inspector_app)", file=sys.stderr)
        return 1
    store = ModelStore(data_dir(args.data_dir))
    ref = store.resolve(args.model) if args.model else store.active()
    if ref is None:
        print("error: no model given and no active model: use --model NAME[@VERSION]", file=sys.stderr)
        return 1
    figures = bench.run_soak(store, ref, bench_files(Path(args.data), args.count), args.soak,
                             report=(lambda _line: None) if args.json else print)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0
