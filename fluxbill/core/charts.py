"""Charts drawn on the server as SVG: no JavaScript library, no network, works in the PDF too."""

from __future__ import annotations

import math
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


# Ticks of the value axis: the largest of these × a power of ten that makes at most MAX_TICKS steps.
NICE_STEPS = (1, 2, 2.5, 5, 10)
MAX_TICKS = 4
# Labels under the bars: about this many, evenly spaced, the first and last always among them.
X_LABELS = 6


def nice_ticks(highest: float, count: int = MAX_TICKS) -> list[float]:
    """0 and round steps up to at least `highest`: 0, 250, 500, 750, 1000 for 830."""
    if highest <= 0:
        return [0.0, 1.0]
    raw = highest / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(n * magnitude for n in NICE_STEPS if n * magnitude >= raw)
    top = step * math.ceil(highest / step - 1e-9)
    return [step * i for i in range(int(round(top / step)) + 1)]


def _tick_label(value: float) -> str:
    """1,500 · 2.5 · 1.2M: short enough for a 60-pixel axis."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def bar_chart(points: list[tuple[str, Decimal | int]], *, width: int = 900, height: int = 200, unit: str = "") -> SafeString:
    """Vertical bars, one per (label, value), over a value axis with labelled gridlines and labels under
    the bars. Hovering a bar shows its value above it (CSS) and in its tooltip (`<title>`)."""
    if not points:
        return mark_safe('<p class="empty">No data for this range yet.</p>')
    highest = max(float(v) for _, v in points)
    ticks = nice_ticks(highest)
    top = ticks[-1]
    pad_left, pad_bottom, pad_top = 56, 20, 14
    usable = height - pad_bottom - pad_top
    plot = width - pad_left
    step = plot / len(points)
    bar = max(1.0, step * 0.7)
    suffix = f" {unit}" if unit else ""
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="bar chart, {len(points)} bars, up to {escape(_tick_label(highest))}{escape(suffix)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in ticks:
        y = pad_top + usable - usable * tick / top
        parts.append(f'<line class="grid" x1="{pad_left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="axis" x="{pad_left - 6}" y="{y + 3:.1f}" text-anchor="end">{escape(_tick_label(tick))}</text>'
        )
    every = max(1, math.ceil(len(points) / X_LABELS))
    for index, (label, value) in enumerate(points):
        h = usable * float(value) / top
        x = pad_left + index * step + (step - bar) / 2
        y = pad_top + usable - h
        shown = escape(f"{_tick_label(float(value))}{suffix}")
        parts.append(
            f'<g class="bar"><rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="2">'
            f'<title>{escape(label)}: {escape(str(value))}{escape(suffix)}</title></rect>'
            f'<text class="value" x="{x + bar / 2:.1f}" y="{max(y - 3, 10):.1f}" text-anchor="middle">{shown}</text></g>'
        )
        last = len(points) - 1
        # The last bar is always labelled; a regular label too close before it would overlap it.
        if index == last or (index % every == 0 and last - index >= max(2, every // 2 + 1)):
            anchor = "end" if index == last else ("start" if index == 0 else "middle")
            parts.append(
                f'<text class="axis" x="{x + bar / 2:.1f}" y="{height - 4}" text-anchor="{anchor}">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))
