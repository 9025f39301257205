"""The synthetic test camera: generated demo parts, with the truth known for every frame."""

from __future__ import annotations

import zlib

import numpy as np

from inspector_app.core.demo_parts import DEFECT_KINDS, render_part
from inspector_app.core.errors import SourceError
from inspector_app.core.sources.base import Frame, FrameSource, Pacer, SourceStatus


class SyntheticSource(FrameSource):
    """Generated parts from ``demo_parts.render_part``: a test camera that needs no hardware and no data.

    Frame ``i`` depends only on ``seed`` and ``i``; ``defect_at(i)`` tells which defect (if any) it shows,
    so tests and benchmarks know the truth for each frame.
    """

    def __init__(
        self, seed: int = 0, size: int = 256, defect_rate: float = 0.25, fps: float | None = None,
        count: int | None = None,
    ) -> None:
        super().__init__(f"synthetic:{seed}")
        if not 0.0 <= defect_rate <= 1.0:
            msg = f"defect rate must be between 0 and 1, got {defect_rate!r}"
            raise SourceError(msg)
        if size < 8:
            msg = f"synthetic frame size must be at least 8 pixels, got {size!r}"
            raise SourceError(msg)
        if count is not None and count < 0:
            msg = f"frame count must be 0 or more (or None for endless), got {count!r}"
            raise SourceError(msg)
        self.seed, self.size, self.defect_rate, self.count = seed, size, defect_rate, count
        self._pacer = Pacer(fps)

    def defect_at(self, index: int) -> str | None:
        """The defect kind frame ``index`` shows, or None for a good part."""
        rng = np.random.default_rng([self.seed, index, zlib.crc32(b"defect")])
        if rng.random() >= self.defect_rate:
            return None
        return DEFECT_KINDS[int(rng.integers(len(DEFECT_KINDS)))]

    def render(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``index`` as (uint8 RGB image, bool defect mask)."""
        part_seed = int(np.random.default_rng([self.seed, index]).integers(2**31 - 1))
        return render_part(part_seed, self.size, defect=self.defect_at(index))

    def _open(self) -> None:
        self._index = 0
        self._pacer.reset()

    def _read(self) -> Frame | SourceStatus:
        if self.count is not None and self._index >= self.count:
            return self._end(f"synthetic source done after {self.count} frames")
        image, _ = self.render(self._index)
        if not self._pacer.wait(self._stop_event):
            return self._stopped_status()
        return self._frame(image)
