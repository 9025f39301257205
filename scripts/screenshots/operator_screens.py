"""Dev tool (not a test): the window as an operator sees it on a small or scaled screen, for screenshots.

    python -m inspector_app --data-dir /tmp/operator-screens/home demo --prepare   # once: demo parts and model
    XSHOT_SIZE=1280x720 ../shared/tools/xshot docs/screenshots/operator_1280x720.png 25 \\
        scripts/screenshots/with_wm.sh python scripts/screenshots/operator_screens.py /tmp/operator-screens/home

The window opens as the app opens it (saved geometry clamped to the screen), runs the demo model on the demo
stream, fills the capture store with reviewed and unreviewed parts (``review_screens.fill``) and, unless
``--no-review``, opens the Review dock. Set QT_SCALE_FACTOR=2 for 200 % scaling.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from inspector_app.core.captures import CaptureStore
from inspector_app.core.modelstore import ModelRef, ModelStore
from inspector_app.gui.inspection.source_panel import SourceSpec
from inspector_app.gui.main_window import MainWindow
from inspector_app.jobs.demo import demo_root


def _review_fill() -> object:
    """``fill`` of review_screens.py beside this file (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("review_screens", Path(__file__).with_name("review_screens.py"))
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.fill


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", help="a data dir where `demo --prepare` has run")
    parser.add_argument("--no-review", action="store_true")
    parser.add_argument("--pause-after", type=float, default=0, help="pause the stream after N seconds")
    args = parser.parse_args(argv)
    home = Path(args.home)
    app = QApplication(sys.argv[:1])
    store = ModelStore(home)
    captures = CaptureStore(home, pass_sample_rate=0.0)
    if captures.counts()["total"] == 0:
        _review_fill()(captures, time.time())
    window = MainWindow(store, QSettings(str(home / "screens.ini"), QSettings.Format.IniFormat), captures=captures)
    window.show()
    names = store.names()
    ref = store.active() or (ModelRef(names[0], store.versions(names[0])[-1]) if names else None)
    if ref is not None:
        window.choose_model(ref)
    stream = demo_root(home) / "stream"
    window.open_source(SourceSpec("demo", str(stream), loop=True, fps=3.0))
    if not args.no_review:
        QTimer.singleShot(300, window.open_review)
    if args.pause_after:
        QTimer.singleShot(int(args.pause_after * 1000), window.toggle_pause)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
