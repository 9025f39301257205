"""The strip chart: scores drawn newest-at-zero with fixed axes, failures marked, y axis growing in steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from inspector_app.gui.inspection.score_chart import MAX_Y_TOP, MIN_Y_TOP, ScoreChart, y_top_for


@pytest.mark.parametrize(
    ("highest", "top"),
    [(0.0, MIN_Y_TOP), (1.9, MIN_Y_TOP), (2.2, 3.0), (2.9, 4.0), (7.5, 8.0), (50.0, MAX_Y_TOP)],
)
def test_y_top_grows_in_steps_and_is_capped(highest: float, top: float) -> None:
    assert y_top_for(highest) == top


def test_chart_scrolls_without_moving_its_x_axis(qtbot: Any) -> None:
    chart = ScoreChart(length=300)
    qtbot.addWidget(chart)
    x_range = chart.getViewBox().viewRange()[0]
    scores = [0.2, 0.4, 1.5, 0.3] * 150  # 600 scores, every fourth a failure
    for score in scores:
        chart.add(score)
    chart.refresh()
    x, y = chart._line.getData()
    assert len(y) == 300  # only the last `length` scores are kept
    np.testing.assert_allclose(y, scores[-300:])
    assert x[-1] == 0 and x[0] == -299  # newest frame at 0, counting back
    fx, fy = chart._fails.getData()
    assert len(fx) == 75 and np.all(fy >= 1.0)
    assert chart.getViewBox().viewRange()[0] == pytest.approx(x_range)  # same ticks, no axis re-layout
    assert chart.fail_count() == 75


def test_y_axis_grows_for_a_high_score_and_clear_empties_the_chart(qtbot: Any) -> None:
    chart = ScoreChart()
    qtbot.addWidget(chart)
    chart.add(0.5)
    chart.refresh()
    assert chart.y_top == MIN_Y_TOP
    chart.add(4.2)
    chart.refresh()
    assert chart.y_top == 5.0
    assert chart.getViewBox().viewRange()[1][1] == pytest.approx(5.0)
    chart.clear_scores()
    chart.refresh()
    assert len(chart._line.getData()[0] or []) == 0
