"""The review queue's thumbnail grid and the background loading of capture pictures.

A queue of a few hundred flagged parts must scroll and respond to keys at once, so pictures (a PNG and a
float16 map per capture) are decoded and overlaid on a one-thread executor and arrive as ``QImage``s by a
queued signal; the grid shows a placeholder until then. Each thumbnail carries the heatmap, so the operator
sees where the model looked before opening the part.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from inspector_app.core.captures import CaptureRecord
from inspector_app.core.images import load_image, overlay_heatmap, thumbnail
from inspector_app.gui.qimage import to_qimage
from inspector_app.gui.score_scale import times_threshold

log = logging.getLogger(__name__)

THUMB = 112
THUMB_CELL = THUMB + 14  # grid cell width
OVERLAY_OPACITY = 0.55
ID_ROLE = Qt.ItemDataRole.UserRole
#: Short mark and colour of each decision, as the grid and the large view show them.
DECISION_MARKS = {
    "unreviewed": ("?", QColor(110, 118, 129)),
    "defect": ("D", QColor(207, 34, 46)),
    "false_alarm": ("F", QColor(191, 135, 0)),
    "good": ("G", QColor(26, 127, 55)),
}


def render_capture(record: CaptureRecord, max_side: int | None = None, overlay: bool = True) -> np.ndarray:
    """A capture's picture (shrunk to ``max_side``) with its stored normalised map as a heatmap.

    Raises:
        ImageLoadError: The PNG is missing or unreadable (an unreadable map only drops the overlay).
    """
    image = load_image(record.image_path)
    if max_side is not None:
        image = thumbnail(image, max_side)
    if not overlay or record.map_path is None:
        return image
    try:
        anomaly_map = np.load(record.map_path, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as exc:
        log.warning("capture %d: map %s unreadable: %s", record.id, record.map_path, exc)
        return image
    return overlay_heatmap(image, anomaly_map, OVERLAY_OPACITY)


class ImageLoader(QObject):
    """Runs picture work off the GUI thread; ``loaded(key, result)`` arrives queued (``None`` on failure)."""

    loaded = Signal(object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-images")
        self._closed = False

    def request(self, key: object, render: Callable[[], object]) -> None:
        """Run ``render`` in the background and emit what it returns under ``key``."""
        if not self._closed:
            self._pool.submit(self._run, key, render)

    def _run(self, key: object, render: Callable[[], object]) -> None:
        try:
            result = render()
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            log.warning("cannot show capture %s: %s", key, exc)
            result = None
        if not self._closed:
            try:
                self.loaded.emit(key, result)
            except RuntimeError:  # the widget went away while this picture was being drawn
                log.debug("dropped picture %s: its widget is gone", key)

    def close(self) -> None:
        """Drop queued work and wait for the picture in progress (call before the widgets go)."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)


def _placeholder() -> QIcon:
    pixmap = QPixmap(THUMB, THUMB)
    pixmap.fill(QColor(48, 52, 58))
    return QIcon(pixmap)


class ReviewGrid(QListWidget):
    """Captures as thumbnails in reading order; each shows its normalised score and decision mark."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWrapping(True)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB_CELL, THUMB + 28))
        self.setSpacing(2)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setStyleSheet("QListWidget { background: #1e2227; color: #e6edf3; }"
                           "QListWidget::item:selected { background: #2f81f7; color: white; }")
        self.loader = ImageLoader(self)
        self.loader.loaded.connect(self._on_loaded)
        self._icons: dict[int, QIcon] = {}
        self._asked: set[int] = set()
        self._placeholder = _placeholder()
        self._records: dict[int, CaptureRecord] = {}
        self._rows: dict[int, int] = {}  # id -> row, so a loaded thumbnail finds its item at once

    # -- contents ---------------------------------------------------------------------------------------
    def ids(self) -> list[int]:
        """The record ids shown, in order."""
        return list(self._rows)

    def record(self, record_id: int | None) -> CaptureRecord | None:
        """The shown record with this id, or None."""
        return None if record_id is None else self._records.get(record_id)

    def current_id(self) -> int | None:
        item = self.currentItem()
        return None if item is None else int(item.data(ID_ROLE))

    def neighbour_id(self, record_id: int) -> int | None:
        """The id after ``record_id`` (the one before at the end of the list), for "decide and move on"."""
        ids = self.ids()
        row = self._rows.get(record_id)
        if row is None:
            return None
        if row + 1 < len(ids):
            return ids[row + 1]
        return ids[row - 1] if row > 0 else None

    def set_records(self, records: list[CaptureRecord], select: int | None = None) -> None:
        """Show ``records`` in order; keep (or move to ``select``) the current item without extra signals."""
        wanted = select if select is not None else self.current_id()
        same_order = [r.id for r in records] == self.ids()
        self._records = {r.id: r for r in records}
        self._rows = {r.id: row for row, r in enumerate(records)}
        self.blockSignals(True)
        try:
            if not same_order:
                self.clear()
                for record in records:
                    item = QListWidgetItem()
                    item.setData(ID_ROLE, record.id)
                    self.addItem(item)
            for row, record in enumerate(records):
                self._describe(self.item(row), record)
        finally:
            self.blockSignals(False)
        self._forget_icons()
        self.select_id(wanted if wanted in self._records else (records[0].id if records else None))

    def select_id(self, record_id: int | None) -> None:
        """Make ``record_id`` current (emits ``currentItemChanged`` when it changes)."""
        if record_id is None or record_id not in self._records:
            self.setCurrentItem(None)
            return
        item = self.item(self._rows[record_id])
        if item is not self.currentItem():
            self.setCurrentItem(item)
        self.scrollToItem(item)

    def _describe(self, item: QListWidgetItem, record: CaptureRecord) -> None:
        mark, colour = DECISION_MARKS.get(record.decision, ("?", QColor("grey")))
        score = f"{times_threshold(record.score, record.threshold, record.normalised_score):.2f}×"
        item.setText(score if record.decision == "unreviewed" else f"{mark} · {score}")
        item.setForeground(QBrush(colour.lighter(150)))
        item.setToolTip(f"capture {record.id} · {record.verdict} · {record.model_name}@{record.model_version}\n"
                        f"{record.source} frame {record.frame_index} · decision {record.decision}")
        item.setIcon(self._icons.get(record.id, self._placeholder))
        if record.id not in self._icons and record.id not in self._asked:
            self._asked.add(record.id)
            self.loader.request(record.id, lambda r=record: to_qimage(render_capture(r, THUMB)))

    def _forget_icons(self) -> None:
        """Keep the icon cache to what is listed, so a long shift does not grow it without end."""
        if len(self._icons) > 2 * max(len(self._records), 500):
            self._icons = {k: v for k, v in self._icons.items() if k in self._records}
            self._asked &= set(self._records)

    def _on_loaded(self, record_id: object, picture: object) -> None:
        if not isinstance(picture, QImage) or not isinstance(record_id, int):
            return
        icon = QIcon(QPixmap.fromImage(picture))
        self._icons[record_id] = icon
        if record_id in self._rows:
            self.item(self._rows[record_id]).setIcon(icon)

    def close_loader(self) -> None:
        """Stop background loading (before the widget is destroyed)."""
        self.loader.close()
