"""The built-in demo: generated parts, a demo model trained once, and a stream folder to inspect.

Everything is made on the user's machine from :mod:`inspector_app.core.demo_parts`, so the demo works
offline and without ``../shared``. Preparation happens once; later runs reuse the parts and the model.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


from inspector_app.core.datasets import write_mvtec_layout
from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.core.paths import data_dir
from inspector_app.detectors.base import Progress

log = logging.getLogger(__name__)

DEMO_MODEL = "demo-parts"
DEMO_FAMILY = "autoencoder"
DEMO_SIZE = 256
DEMO_CONFIG: dict[str, Any] = {"image_size": 128, "epochs": 40, "early_stopping": 8}
#: Bump when the generated parts or the demo model's settings change, so old demo files are rebuilt.
DEMO_REVISION = "1"


@dataclass
class DemoFiles:
    dataset: Path
    stream: Path
    model: ModelRef


def demo_root(root: Path) -> Path:
    return root / "demo" / f"rev{DEMO_REVISION}"


def make_demo_images(folder: Path, train_good: int = 120, test_good: int = 20, per_defect: int = 8) -> Path:
    """Generated parts in MVTec layout; seeds are disjoint so no test part repeats a training part."""
    good_train = [render_part(1000 + i, DEMO_SIZE)[0] for i in range(train_good)]
    good_test = [render_part(5000 + i, DEMO_SIZE)[0] for i in range(test_good)]
    defects = {
        kind: [render_part(9000 + 100 * k + i, DEMO_SIZE, defect=kind) for i in range(per_defect)]
        for k, kind in enumerate(DEFECT_KINDS)
    }
    return write_mvtec_layout(folder, good_train, good_test, defects)


def make_stream_folder(folder: Path, count: int = 60, defect_every: int = 4) -> Path:
    """A line of parts as a camera would see them: mostly good, every ``defect_every``-th one defective."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        defect = DEFECT_KINDS[(i // defect_every) % len(DEFECT_KINDS)] if i % defect_every == defect_every - 1 else None
        image, _ = render_part(20000 + i, DEMO_SIZE, defect=defect)
        save_image(folder / f"part_{i:04d}.png", image)
    return folder


def prepare_demo(root: Path, progress: Progress | None = None) -> DemoFiles:
    """Make the demo parts and model if they are not there yet; quick when they are."""
    progress = progress or Progress()
    base = demo_root(root)
    dataset, stream = base / "parts", base / "stream"
    if not (dataset / ".complete").is_file():
        progress(stage="demo", message="drawing demo parts")
        make_demo_images(dataset)
        (dataset / ".complete").write_text("ok\n")
    if not (stream / ".complete").is_file():
        make_stream_folder(stream)
        (stream / ".complete").write_text("ok\n")
    store = ModelStore(root)
    model_name = f"{DEMO_MODEL}-r{DEMO_REVISION}"
    versions = store.versions(model_name)
    if versions:
        ref = ModelRef(model_name, versions[-1])
    else:
        from inspector_app.jobs.training import run_training  # noqa: PLC0415
        from inspector_app.jobs.training_spec import TrainingSpec  # noqa: PLC0415

        progress(stage="demo", message="training the demo model (once, about a minute)")
        spec = TrainingSpec(family=DEMO_FAMILY, data=[str(dataset)], name=model_name, config=dict(DEMO_CONFIG),
                            notes="built-in demo model")
        ref = run_training(spec, store, progress)
    if store.active() is None:
        store.activate(ref)
    return DemoFiles(dataset, stream, ref)


def run_console_demo(data_dir_override: str | None, frames: int = 0, out: Callable[[str], None] = print) -> int:
    """The demo without a window: prepare, then print one verdict per streamed part."""
    from inspector_app.core.sources import FolderSource, Frame  # noqa: PLC0415
    from inspector_app.detectors.loaded_model import LoadedModel  # noqa: PLC0415
    from inspector_app.jobs.progress_output import TerminalBar  # noqa: PLC0415

    root = data_dir(data_dir_override)
    files = prepare_demo(root, Progress(TerminalBar(sys.stderr)))
    model = LoadedModel.load(ModelStore(root), files.model)
    shown = 0
    with FolderSource(files.stream) as source:
        for item in source:
            if not isinstance(item, Frame):
                continue
            started = time.perf_counter()
            result = model.inspect(item.image[None])
            ms = (time.perf_counter() - started) * 1000
            verdict = "FAIL" if result.failed[0] else "PASS"
            ratio = result.scores[0] / model.calibration.threshold
            out(f"{Path(item.path or '').name:<16} {verdict}  {ratio:5.2f} × threshold  {ms:5.1f} ms")
            shown += 1
            if frames and shown >= frames:
                break
    return 0




def run_prepare(data_dir_override: str | None) -> int:
    """``demo --prepare``: used by the window, which reads these JSON lines in a child process."""
    from inspector_app.jobs.progress_output import JsonLines  # noqa: PLC0415

    out = JsonLines()
    try:
        files = prepare_demo(data_dir(data_dir_override), Progress(out))
    except Exception as exc:  # noqa: BLE001 - reported to the window, which shows it
        out.emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        print(f"demo preparation failed: {exc}", file=sys.stderr)
        return 1
    out.emit({"event": "ready", "model": str(files.model), "stream": str(files.stream), "dataset": str(files.dataset)})
    return 0
