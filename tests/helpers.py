"""Small generated datasets shared by several test modules."""

from __future__ import annotations

from pathlib import Path

from inspector_app.core.datasets import write_mvtec_layout
from inspector_app.core.demo_parts import render_part


def tiny_parts_dataset(folder: Path, size: int = 64, train_good: int = 24, test_good: int = 6, per_defect: int = 3) -> Path:
    """A small MVTec-layout dataset of generated parts (seconds to write, seconds to train on)."""
    good_train = [render_part(100 + i, size)[0] for i in range(train_good)]
    good_test = [render_part(500 + i, size)[0] for i in range(test_good)]
    defects = {
        kind: [render_part(900 + 10 * k + i, size, defect=kind) for i in range(per_defect)]
        for k, kind in enumerate(["scratch", "hole", "stain"])
    }
    return write_mvtec_layout(folder, good_train, good_test, defects)
