"""What TensorFlow runs on, for the Help menu. Never imports TensorFlow on the GUI thread by itself."""

from __future__ import annotations

import sys


def describe_device() -> str:
    if "tensorflow" not in sys.modules:
        return "TensorFlow is not loaded yet (it loads with the first model)"
    from inspector_app.detectors.common.runtime import device_summary  # noqa: PLC0415

    try:
        return device_summary()
    except Exception as exc:  # noqa: BLE001 - informational only
        return f"unknown ({exc})"
