"""The dashboard's bar chart (fluxbill/core/charts.py): a value axis with round ticks, labels under the bars,
a value shown on hover. Found: charts had no value axis, only "max N", and no labelled ticks."""

import re
from decimal import Decimal

import pytest

from fluxbill.core.charts import bar_chart, nice_ticks


@pytest.mark.parametrize(
    ("highest", "ticks"),
    [
        (830, [0, 250, 500, 750, 1000]),  # 830 / 4 = 207.5 → a step of 250
        (4, [0, 1, 2, 3, 4]),
        (17.5, [0, 5, 10, 15, 20]),
        (1, [0, 0.25, 0.5, 0.75, 1]),
        (12_345, [0, 5000, 10000, 15000]),  # 3,086 → 5,000
        (0, [0, 1]),  # nothing yet: an axis that still reads 0 to 1
    ],
)
def test_ticks_are_round_steps_from_zero_to_at_least_the_highest_value(highest, ticks):
    assert nice_ticks(highest) == pytest.approx(ticks)


def test_the_chart_has_a_labelled_value_axis_labels_under_bars_and_hover_values():
    points = [(f"2026-11-{day:02d}", Decimal(day * 30)) for day in range(1, 31)]  # up to 900

    svg = str(bar_chart(points, unit="calls"))

    # Value axis: a gridline and a label per tick (0, 250, 500, 750, 1,000).
    assert len(re.findall(r'<line class="grid"', svg)) == 5
    assert re.findall(r'<text class="axis" x="50" y="[\d.]+" text-anchor="end">([^<]+)</text>', svg) == ["0", "250", "500", "750", "1,000"]
    # Labels under the bars: every fifth day and the last, not all thirty.
    under = re.findall(r'text-anchor="(?:start|middle|end)">(2026-11-\d\d)</text>', svg)
    assert under == ["2026-11-01", "2026-11-06", "2026-11-11", "2026-11-16", "2026-11-21", "2026-11-26", "2026-11-30"]
    # Each bar carries its value, shown on hover, and a tooltip.
    assert svg.count('<g class="bar">') == 30
    assert '<text class="value"' in svg and ">900 calls</text>" in svg
    assert "<title>2026-11-30: 900 calls</title>" in svg


def test_labels_are_escaped():
    svg = str(bar_chart([("<b>", 1)], unit="<i>"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg
