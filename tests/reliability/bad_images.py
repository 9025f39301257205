"""The bad-image set of issue 22, made on the spot: every file a camera folder or a user's dataset may hold.

``make_bad_images(folder)`` writes them and returns one ``BadImage`` per file saying whether the app should read
it (``readable``) or refuse it with its own clear error. Two need the caller's help at read time: the file that
disappears between listing and reading (delete ``vanished`` after listing) and, when the tests run as root (who
reads any file), the unreadable one (see ``refuse_unreadable``).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

BOMB_SIDE = 30000


@dataclass(frozen=True)
class BadImage:
    path: Path
    readable: bool
    shape: tuple[int, int] | None = None  # (height, width) expected when readable


def _part(size: tuple[int, int] = (48, 64)) -> np.ndarray:
    """A colourful RGB picture, so every conversion has something to change."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) % 256], axis=-1).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A PNG whose header declares side×side grey pixels (900 MB decoded at 30000), in a few kilobytes."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * (side + 1) * 64, 9)  # the first rows only: the header alone must refuse it
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def _save(path: Path, image: Image.Image, **options: object) -> Path:
    image.save(path, **options)
    return path


def make_bad_images(folder: Path) -> dict[str, BadImage]:
    """Write the whole set into ``folder`` (created); keys are short names for test ids."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = Image.fromarray(_part())
    made: dict[str, BadImage] = {}

    def bad(key: str, path: Path) -> None:
        made[key] = BadImage(path, readable=False)

    def good(key: str, path: Path, shape: tuple[int, int] = (48, 64)) -> None:
        made[key] = BadImage(path, readable=True, shape=shape)

    (folder / "empty.png").write_bytes(b"")
    bad("empty", folder / "empty.png")
    jpeg = io.BytesIO()
    rgb.save(jpeg, "JPEG")
    (folder / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])
    bad("truncated-jpeg", folder / "truncated.jpg")
    png = io.BytesIO()
    rgb.save(png, "PNG")
    (folder / "truncated.png").write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    bad("truncated-png", folder / "truncated.png")
    (folder / "notes.png").write_text("this is a text file with an image's name\n")
    bad("text-as-png", folder / "notes.png")
    grey16 = Image.fromarray(_part()[..., 0].astype("<u2") * 257)  # mode I;16
    good("png-16bit", _save(folder / "grey16.png", grey16))
    good("tiff-16bit", _save(folder / "grey16.tif", grey16))
    good("grey", _save(folder / "grey.png", rgb.convert("L")))
    good("grey-alpha", _save(folder / "grey_alpha.png", rgb.convert("LA")))
    good("rgba", _save(folder / "rgba.png", rgb.convert("RGBA")))
    good("palette", _save(folder / "palette.png", rgb.convert("P")))
    good("1-bit", _save(folder / "onebit.png", rgb.convert("1")))
    good("cmyk-jpeg", _save(folder / "cmyk.jpg", rgb.convert("CMYK"), quality=95))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    good("exif-rotated", _save(folder / "rotated.jpg", rgb, exif=exif.tobytes()), shape=(64, 48))
    good("1x1", _save(folder / "pixel.png", Image.fromarray(np.full((1, 1, 3), 200, np.uint8))), shape=(1, 1))
    (folder / "bomb.png").write_bytes(bomb_png())
    bad("decompression-bomb", folder / "bomb.png")
    vanished = _save(folder / "vanished.png", rgb)
    bad("vanished", vanished)
    unreadable = _save(folder / "unreadable.png", rgb)
    unreadable.chmod(0)
    bad("unreadable", unreadable)
    loop = folder / "loop.png"
    os.symlink(loop, loop)
    bad("symlink-loop", loop)
    odd = Path(os.fsdecode(os.fsencode(str(folder)) + b"/caf\xe9-latin1.png"))  # a name that is not UTF-8
    good("non-utf8-name", _save(odd, rgb))
    return made


def remove_vanished(made: dict[str, BadImage]) -> None:
    """Delete the file that vanishes between listing and reading (call after listing)."""
    made["vanished"].path.unlink(missing_ok=True)


def refuse_unreadable(made: dict[str, BadImage], monkeypatch: object) -> None:
    """As root every file is readable; make opening the unreadable file fail as it does for a user."""
    if os.geteuid() != 0:
        return
    target = made["unreadable"].path
    original = Path.open

    def open_refusing(self: Path, *args: object, **kwargs: object) -> object:
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_refusing)  # type: ignore[attr-defined]
