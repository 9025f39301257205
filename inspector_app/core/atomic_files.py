"""Writing a file so readers see the old content or the new, never half of it (temp file + rename)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import IO, Callable


def write_text_atomic(path: Path, write: Callable[[IO[str]], None], *, newline: str | None = None) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}.{uuid.uuid4().hex}")
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
