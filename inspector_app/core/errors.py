"""Error types the app shows to people: each message names the file or value and the reason."""

from __future__ import annotations

import os


def printable(path: object) -> str:
    """A file name as text any terminal, log, database or label accepts: bytes of a name that are not UTF-8
    (Python keeps them as lone surrogates) become U+FFFD instead of raising UnicodeEncodeError where shown."""
    text = os.fsdecode(path) if isinstance(path, bytes | os.PathLike) else str(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class InspectorError(Exception):
    """Base class for every error the app reports to a user instead of a traceback."""


class ImageLoadError(InspectorError):
    """An image file could not be turned into an RGB picture (corrupt, empty, not an image, too large...)."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot read image {printable(self.path)}: {reason}")


class DatasetError(InspectorError):
    """A dataset folder does not have a layout the app understands, or its contents do not match."""


class ModelStoreError(InspectorError):
    """A model version is missing, incomplete or from an incompatible version of the app."""


class SourceError(InspectorError):
    """A frame source (folder, video, camera) could not be opened."""


class TrainingCancelled(InspectorError):
    """Training was stopped on request; nothing was written to the model store."""
