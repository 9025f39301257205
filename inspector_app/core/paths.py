"""Where the app keeps its data (models, captures, demo parts), following each platform's convention.

Order of precedence: an explicit ``--data-dir``, then ``INSPECTOR_APP_HOME``, then the platform folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from inspector_app.core.errors import InspectorError

APP_DIR_NAME = "inspector-app"


def platform_data_dir() -> Path:
    """The per-user data folder the platform expects (XDG on Linux, AppData on Windows, Library on macOS)."""
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / APP_DIR_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / APP_DIR_NAME


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data folder to use, created if missing."""
    if override:
        folder = Path(override)
    elif os.environ.get("INSPECTOR_APP_HOME"):
        folder = Path(os.environ["INSPECTOR_APP_HOME"])
    else:
        folder = platform_data_dir()
    folder = folder.expanduser().resolve()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, a read-only disk
        msg = f"cannot use {folder} as the data folder: {exc.strerror or exc}"
        raise InspectorError(msg) from None
    return folder
