"""What the user typed (a folder, a video file, ``camera:0``, a URL, ``synthetic``) turned into a frame source."""

from __future__ import annotations

import inspect
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from inspector_app.core.datasets import IMAGE_SUFFIXES
from inspector_app.core.errors import SourceError
from inspector_app.core.sources.base import FrameSource
from inspector_app.core.sources.camera import STREAM_SCHEMES, CameraSource
from inspector_app.core.sources.folder import FolderSource
from inspector_app.core.sources.synthetic import SyntheticSource
from inspector_app.core.sources.video import VIDEO_SUFFIXES, VideoFileSource

log = logging.getLogger(__name__)

_CAMERA_PREFIX = re.compile(r"^(?:camera|cam):(.+)$", re.IGNORECASE)
_SYNTHETIC = re.compile(r"^synthetic(?::(-?\d+))?$", re.IGNORECASE)
_USAGE = (
    "expected an image folder, a video file, camera:<index>, a camera index, an rtsp:// or http:// URL, "
    "or 'synthetic'"
)


def open_source(spec: str, **options: Any) -> FrameSource:
    """Turn what a user typed into a frame source (not yet opened).

    Args:
        spec: an existing folder, a video file, ``camera:0`` or ``0``, a stream URL, or ``synthetic``
            (``synthetic:<seed>`` picks the seed).
        **options: constructor options (``loop``, ``fps``, ``watch``...); those the chosen kind does not take
            are logged and ignored, so one set of command-line options fits every kind.

    Raises:
        SourceError: the text names nothing that can be opened.
    """
    text = str(spec).strip()
    if not text:
        msg = f"empty source; {_USAGE}"
        raise SourceError(msg)
    cls, args = _parse(text)
    return cls(*args, **_accepted(cls, options))


def _parse(text: str) -> tuple[type[FrameSource], tuple[Any, ...]]:
    synthetic = _SYNTHETIC.match(text)
    if synthetic:
        return SyntheticSource, (int(synthetic.group(1) or 0),)
    camera = _CAMERA_PREFIX.match(text)
    if camera:
        return CameraSource, (camera.group(1).strip(),)
    if text.isdigit():
        return CameraSource, (int(text),)
    if urlsplit(text).scheme.lower() in STREAM_SCHEMES:
        return CameraSource, (text,)
    path = Path(text).expanduser()
    if path.is_dir():
        return FolderSource, (path,)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        if not path.is_file():
            msg = f"video file {path} does not exist"
            raise SourceError(msg)
        return VideoFileSource, (path,)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        msg = f"{path} is a single image; open its folder ({path.parent}) instead"
        raise SourceError(msg)
    what = "is not a folder or a known video type" if path.exists() else "is no folder, file, camera or URL"
    msg = f"source {text!r} {what}; {_USAGE}"
    raise SourceError(msg)


def _accepted(cls: type[FrameSource], options: dict[str, Any]) -> dict[str, Any]:
    names = set(inspect.signature(cls.__init__).parameters) - {"self"}
    ignored = {k: v for k, v in options.items() if k not in names}
    if ignored:
        log.info("%s takes no %s; ignored", cls.__name__, ", ".join(f"{k}={v!r}" for k, v in ignored.items()))
    return {k: v for k, v in options.items() if k in names}
