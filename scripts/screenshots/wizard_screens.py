"""Dev tool (not a test): open the training wizard on generated parts at a chosen page, for screenshots.

    ../shared/tools/xshot docs/screenshots/wizard_1_family.png 6 \
        /root/.cache/inspector-app/venv/bin/python scripts/screenshots/wizard_screens.py --page 1

Pages 1–3 need nothing trained. Page 4 starts a real (long) training and is meant to be shot while it runs.
Pages 5 and 6 show a version trained once by ``inspector-app train`` and kept in the work folder, so later
shots are quick. Generated parts are written in the plain layout (good/, defect/<type>/, masks/<type>/) so
the calibration page has defect scores too. ``--data`` shows another dataset on pages 1–3 instead.
``--page 3 --family metric --synthetic-preview`` puts the preview beside the wizard: use ``XSHOT_SIZE=1800x800``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelStore
from inspector_app.gui.training_wizard import TrainingWizard
from inspector_app.jobs.training_spec import TrainingSpec

log = logging.getLogger("wizard_screens")
NAME = "flanges"
CONFIG = {"image_size": 64, "epochs": 12, "base_filters": 16, "bottleneck": 32, "batch_size": 8}


def generated_parts(folder: Path, good: int = 60, per_defect: int = 8, size: int = 160) -> Path:
    """Good and defective flanges with masks in the plain layout (written once)."""
    if (folder / "done").is_file():
        return folder
    for sub in ["good"] + [f"{top}/{kind}" for top in ("defect", "masks") for kind in DEFECT_KINDS]:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for i in range(good):
        save_image(folder / "good" / f"part_{i:03d}.png", render_part(100 + i, size)[0])
    for k, kind in enumerate(DEFECT_KINDS):
        for i in range(per_defect):
            image, mask = render_part(900 + 20 * k + i, size, defect=kind)
            save_image(folder / "defect" / kind / f"{kind}_{i:02d}.png", image)
            save_image(folder / "masks" / kind / f"{kind}_{i:02d}.png", (mask * 255).astype("uint8"))
    (folder / "done").write_text("generated\n", encoding="utf-8")
    return folder


def trained_version(home: Path, data: Path) -> str:
    """``name@version`` of a version trained once with the real CLI (kept for later shots)."""
    store = ModelStore(home)
    if store.versions(NAME):
        return f"{NAME}@{store.versions(NAME)[-1]}"
    spec = home / "spec.json"
    spec.write_text(json.dumps({"family": "autoencoder", "data": [str(data)], "name": NAME,
                                "config": {"image_size": 128, "epochs": 40}}), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "inspector_app", "--data-dir", str(home), "train", "--spec", str(spec)],
                   check=True)
    return f"{NAME}@{ModelStore(home).versions(NAME)[-1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=int, default=1, choices=range(1, 7))
    parser.add_argument("--work", default="/tmp/wizard-screens", help="generated data and the data dir")
    parser.add_argument("--data", help="a dataset folder to show on pages 1-3 instead of generated parts")
    parser.add_argument("--family", help="pages 1-3: the family chosen on page 1 (default: the wizard's own)")
    parser.add_argument("--device", help="the device line (default: ask TensorFlow in a child)")
    parser.add_argument("--synthetic-preview", action="store_true",
                        help="page 3: open the preview of synthetic anomalies (a family that makes them, e.g. metric)")
    parser.add_argument("--kill-after", type=float, default=0, help="page 4: SIGKILL the child after N seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    work = Path(args.work)
    parts = generated_parts(work / "parts")
    home = work / "home"
    data = Path(args.data) if args.data and args.page <= 3 else parts
    model = trained_version(home, parts) if args.page >= 5 else None
    app = QApplication.instance() or QApplication(sys.argv[:1])
    initial: dict = {"data": [str(data)]}
    if args.family:
        initial["family"] = args.family
    if args.page >= 4:  # small settings, so page 4 shows several epochs within seconds
        initial.update(family="autoencoder", name=NAME, config={**CONFIG, "epochs": 400})
    wizard = TrainingWizard(ModelStore(home), initial=TrainingSpec.from_json(initial), device=args.device)
    wizard.ask = lambda title, text, buttons: buttons[-1]  # type: ignore[method-assign]
    wizard.show()
    if model:
        wizard.job.model = model
    for _ in range(args.page - 1):
        wizard.next()
    if args.page == 5 and model:
        page = wizard.calibration_page
        page.set_threshold(page.threshold() * 0.97)  # as if the user had nudged the line
    if args.page == 3 and args.synthetic_preview:
        wizard.move(0, 0)  # leave room on the screen for the dialog beside it
        wizard.parameters_page.open_preview()
        wizard.parameters_page.preview.move(wizard.x() + wizard.width() + 10, wizard.y())
    if args.page == 4 and args.kill_after:  # what an out-of-memory kill looks like
        QTimer.singleShot(int(args.kill_after * 1000), lambda: os.kill(wizard.process.pid(), signal.SIGKILL))
    log.info("showing page %d of the wizard", wizard.currentId() + 1)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
