"""Dev tool (not a test): the user guide's screenshots that the other screenshot tools do not take.

    ../shared/tools/xshot docs/screenshots/guide_camera.png 20 \
        python scripts/screenshots/guide_screens.py WORK_DIR prepare|camera|rollback|retrain

WORK_DIR is a data dir kept between shots: the first run writes generated parts, trains two small versions of
``flange`` with ``inspector-app train`` and fills the capture store as ``review_screens.py`` does (a minute or
two), so later shots only open the window. ``camera`` shows the source panel set to a camera, ``rollback``
the Model ▸ Roll back menu, ``retrain`` the wizard opened by Train ▸ Retrain from captures.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from inspector_app.core.captures import CaptureStore
from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.images import save_image
from inspector_app.core.modelstore import ModelStore
from inspector_app.gui.main_window import MainWindow

sys.path.insert(0, str(Path(__file__).resolve().parent))
from review_screens import fill  # noqa: E402 - the same captures as the review screenshots

NAME = "flange"


def prepare(root: Path) -> None:
    """Parts, two trained versions and a filled capture store, made once."""
    parts = root / "parts"
    if not (parts / "done").is_file():
        for folder in ["good", *(f"defect/{kind}" for kind in DEFECT_KINDS)]:
            (parts / folder).mkdir(parents=True, exist_ok=True)
        for i in range(40):
            save_image(parts / "good" / f"good_{i:03d}.png", render_part(100 + i, 128)[0])
        for k, kind in enumerate(DEFECT_KINDS):
            for i in range(4):
                save_image(parts / "defect" / kind / f"{kind}_{i}.png", render_part(900 + 10 * k + i, 128, defect=kind)[0])
        (parts / "done").write_text("", encoding="utf-8")
    store = ModelStore(root)
    for version in ("v1", "v2"):
        if version not in store.versions(NAME):
            subprocess.run([sys.executable, "-m", "inspector_app", "--data-dir", str(root), "train", "--data",
                            str(parts), "--name", NAME, "--version", version, "--epochs", "3", "--image-size", "64",
                            "--activate"], check=True)
    captures = CaptureStore(root, pass_sample_rate=0.0)
    if captures.counts()["total"] == 0:
        fill(captures, time.time())
    captures.close()


def main() -> int:
    root, scene = Path(sys.argv[1]), sys.argv[2]
    prepare(root)
    if scene == "prepare":  # only make the data dir, e.g. before the first timed shot
        return 0
    app = QApplication(sys.argv[:1])
    store = ModelStore(root)
    captures = CaptureStore(root, pass_sample_rate=0.0)
    settings = QSettings(str(root / "screens.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, settings, captures=captures)
    window.resize(1400, 900)
    window.show()
    window.choose_model(store.resolve(f"{NAME}@v2"))
    if scene == "camera":  # the source box does not wait for the model
        window._focus_source("camera")

    def act() -> None:  # none of the scenes waits for the model: the menu and the wizard use the active version
        if scene == "rollback":
            bar = window.menuBar()
            model_menu = window.model_menu
            model_menu.popup(window.mapToGlobal(bar.actionGeometry(model_menu.menuAction()).bottomLeft()))
            rollback = window.rollback_menu
            QTimer.singleShot(500, lambda: (window._fill_rollback_menu(), rollback.popup(
                model_menu.mapToGlobal(model_menu.actionGeometry(rollback.menuAction()).topRight() + QPoint(2, 0)))))
        elif scene == "retrain":
            window.retrain_from_captures()

    QTimer.singleShot(2000, act)
    code = app.exec()
    window.shutdown()
    captures.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
