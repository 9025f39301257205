"""Open the real inspection window on one chosen image, for screenshots under Xvfb.

Usage: python scripts/screenshots/main_screens.py DATA_DIR MODEL IMAGE_OR_FOLDER [heatmap|contours|none]
(run through ../shared/tools/xshot). The window loads MODEL, inspects the image(s) once and stays open.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from inspector_app.core.modelstore import ModelStore
from inspector_app.gui.inspection.source_panel import SourceSpec
from inspector_app.gui.main_window import MainWindow


def main() -> int:
    data_dir, model, target = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    overlay = sys.argv[4] if len(sys.argv) > 4 else "heatmap"
    app = QApplication(sys.argv[:1])
    store = ModelStore(Path(data_dir))
    settings = QSettings(str(Path(data_dir) / "screens.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, settings)
    window.resize(1400, 900)
    window.show()
    window.choose_model(store.resolve(model))
    folder = target if target.is_dir() else target.parent

    def start() -> None:
        if window.model is None:
            QTimer.singleShot(200, start)
            return
        window.overlay_combo.setCurrentText(overlay)
        window.open_source(SourceSpec("folder", str(folder), fps=2.0))

    QTimer.singleShot(200, start)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
