"""The Qt binding must not corrupt reference counts in the paint calls the window makes all shift long.

PySide6 6.12.0 drops a reference to None on each ``QPainter.drawLine(QPointF, QPointF)``; on Python 3.11
the interpreter aborts once None's count runs out (a strip chart gets there in minutes). The check runs
in a child process so a broken binding fails this test instead of killing the test run.
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QApplication
app = QApplication([])
image = QImage(64, 64, QImage.Format.Format_RGB32)
painter = QPainter(image)
a, b = QPointF(0, 0), QPointF(40, 40)
before = sys.getrefcount(None)
for _ in range(200_000):
    painter.drawLine(a, b)
painter.end()
print("delta", sys.getrefcount(None) - before)
"""


def test_drawline_keeps_none_alive() -> None:
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": ""})
    assert out.returncode == 0, f"the Qt binding corrupts reference counts: {out.stderr[-300:]}"
    delta = int(out.stdout.split()[-1])
    assert abs(delta) < 1000, f"None's reference count changed by {delta} over 200 000 paint calls"
