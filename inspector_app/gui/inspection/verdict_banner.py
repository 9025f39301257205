"""The verdict an operator reads from two metres: PASS / FAIL in big letters, or the state of the line."""

from __future__ import annotations

from enum import Enum

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget


class BannerState(Enum):
    PASS = ("PASS", "#2ea043", "#ffffff")
    FAIL = ("FAIL", "#d72638", "#ffffff")
    NO_MODEL = ("NO MODEL", "#6e7681", "#ffffff")
    NO_SOURCE = ("NO SOURCE", "#6e7681", "#ffffff")
    SOURCE_LOST = ("SOURCE LOST", "#d29922", "#111111")  # the detail says what is being retried
    LOADING_MODEL = ("LOADING MODEL", "#1f6feb", "#ffffff")
    PAUSED = ("PAUSED", "#6e7681", "#ffffff")
    WAITING = ("WAITING", "#6e7681", "#ffffff")
    PREPARING = ("PREPARING DEMO", "#1f6feb", "#ffffff")


class VerdictBanner(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdictBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._title = QLabel()
        self._detail = QLabel()
        self._title.setObjectName("verdictTitle")
        self._detail.setObjectName("verdictDetail")
        self._detail.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._detail.setWordWrap(True)  # the figures wrap rather than widen the window past a small screen
        layout = QHBoxLayout(self)
        layout.setContentsMargins(18, 6, 18, 6)
        layout.addWidget(self._title)
        layout.addWidget(self._detail, 1)  # the figures take the free width, so they wrap only when it runs out
        self.state: BannerState | None = None
        #: While the stream is paused the title says so beside the last verdict ("FAIL · PAUSED").
        self.paused = False
        self.set_state(BannerState.NO_SOURCE)

    @property
    def text(self) -> str:
        return self._title.text()

    @property
    def detail(self) -> str:
        return self._detail.text()

    def set_state(self, state: BannerState, detail: str = "") -> None:
        title, background, foreground = state.value
        if state is not self.state:
            self.state = state
            self.setStyleSheet(
                f"#verdictBanner {{ background: {background}; border-radius: 6px; }}"
                f"#verdictTitle {{ color: {foreground}; font-size: 40px; font-weight: 800; }}"
                f"#verdictDetail {{ color: {foreground}; font-size: 17px; font-weight: 600; }}"
            )
        paused = self.paused and state in (BannerState.PASS, BannerState.FAIL, BannerState.WAITING)
        # PAUSED in smaller letters beside the verdict, so the title still fits one line on a small screen.
        paused_mark = "&nbsp;<span style='font-size: 22px'>·&nbsp;PAUSED</span>"  # no line break inside
        self._title.setText(f"{title}{paused_mark}" if paused else title)
        self._detail.setText(detail)

    def set_paused(self, paused: bool) -> None:
        """Say PAUSED in the title (beside the verdict on screen) until the stream resumes."""
        self.paused = paused
        if self.state is not None:
            self.set_state(self.state, self.detail)

    def show_verdict(self, failed: bool, score: float, threshold: float, ratio: float) -> None:
        """``ratio`` is score ÷ threshold (``gui.score_scale``)."""
        nbsp = "\u00a0"  # a narrow banner wraps between the three figures, never inside one
        detail = (f"{max(ratio, 0.0):.2f}× threshold  ·  score{nbsp}{score:.4g}  ·  "
                  f"threshold{nbsp}{threshold:.4g}")
        self.set_state(BannerState.FAIL if failed else BannerState.PASS, detail)
