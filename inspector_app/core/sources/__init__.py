"""Frame sources: one interface (``base``) over image folders, video files, cameras and the synthetic test
camera, and ``open_source`` (``parsing``) for what a user typed."""

from inspector_app.core.sources.base import Frame, FrameSource, SourceStatus
from inspector_app.core.sources.camera import STREAM_SCHEMES, CameraSource
from inspector_app.core.sources.folder import FolderSource
from inspector_app.core.sources.parsing import open_source
from inspector_app.core.sources.synthetic import SyntheticSource
from inspector_app.core.sources.video import VIDEO_SUFFIXES, VideoFileSource

__all__ = [
    "STREAM_SCHEMES",
    "VIDEO_SUFFIXES",
    "CameraSource",
    "FolderSource",
    "Frame",
    "FrameSource",
    "SourceStatus",
    "SyntheticSource",
    "VideoFileSource",
    "open_source",
]
