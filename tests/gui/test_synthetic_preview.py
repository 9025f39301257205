"""The wizard's preview of synthetic anomalies: offered only for families that make them, drawn off the GUI
thread from the chosen data, and a bad setting is reported in the dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

from helpers import tiny_parts_dataset
from inspector_app.core.modelstore import ModelStore
from inspector_app.detectors.registry import detector_class
from inspector_app.gui.training_wizard import TrainingWizard
from inspector_app.gui.training_wizard.synthetic_preview import SyntheticPreviewDialog
from inspector_app.jobs.training_spec import TrainingSpec


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_parts_dataset(tmp_path_factory.mktemp("parts"), size=48, train_good=12, per_defect=1)


@pytest.mark.parametrize(("family", "offered"), [("metric", True), ("autoencoder", False)])
def test_the_parameters_page_offers_a_preview_only_to_families_that_make_anomalies(
        qtbot: Any, parts: Path, tmp_path: Path, family: str, offered: bool) -> None:
    spec = TrainingSpec.from_json({"data": [str(parts)], "family": family})
    wizard = TrainingWizard(ModelStore(tmp_path / "home"), initial=spec, device="cpu")
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    wizard.next()
    page = wizard.parameters_page
    assert page.preview_button.isVisible() is offered
    if offered:
        page.open_preview()
        qtbot.waitUntil(lambda: "sample set 1" in page.preview.status.text(), timeout=20000)
        page.preview.close()


def test_the_dialog_shows_each_class_for_the_same_good_images(qtbot: Any, parts: Path) -> None:
    dialog = SyntheticPreviewDialog()
    qtbot.addWidget(dialog)
    dialog.show_for(detector_class("metric"), [str(parts)], {"image_size": 64})
    qtbot.waitUntil(lambda: "3 synthetic classes" in dialog.status.text(), timeout=20000)
    titles = [dialog.grid.itemAtPosition(row, 0).widget().text() for row in range(4)]
    assert titles == ["normal", "lines", "distortion", "cutpaste"]
    pictures = [w for w in (dialog.grid.itemAt(i).widget() for i in range(dialog.grid.count()))
                if isinstance(w, QLabel) and not w.pixmap().isNull()]
    assert len(pictures) == 4 * 4
    dialog._reseed()
    qtbot.waitUntil(lambda: "sample set 2" in dialog.status.text(), timeout=20000)


def test_a_bad_setting_is_reported_in_the_dialog(qtbot: Any, parts: Path) -> None:
    dialog = SyntheticPreviewDialog()
    qtbot.addWidget(dialog)
    dialog.show_for(detector_class("metric"), [str(parts)], {"anomaly_classes": ["lines", "smudge"]})
    qtbot.waitUntil(lambda: "No preview" in dialog.status.text(), timeout=20000)
    assert "smudge" in dialog.status.text()
    dialog.close()
