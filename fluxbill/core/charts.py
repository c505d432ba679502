"""Charts drawn on the server as SVG: no JavaScript library, no network, works in the PDF too."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def bar_chart(points: list[tuple[str, Decimal | int]], *, width: int = 640, height: int = 180, unit: str = "") -> SafeString:
    """Vertical bars, one per (label, value), with the label and value in each bar's tooltip."""
    if not points:
        return mark_safe('<p class="empty">No data for this range yet.</p>')
    highest = max(float(v) for _, v in points)
    top = highest or 1.0
    pad_bottom, pad_top = 20, 10
    usable = height - pad_bottom - pad_top
    step = width / len(points)
    bar = max(1.0, step * 0.7)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" height="{height}" role="img" '
        f'aria-label="bar chart, {len(points)} bars" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (label, value) in enumerate(points):
        h = usable * float(value) / top
        x = index * step + (step - bar) / 2
        y = pad_top + usable - h
        title = escape(f"{label}: {value}{(' ' + unit) if unit else ''}")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="2"><title>{title}</title></rect>'
        )
    first, last = escape(points[0][0]), escape(points[-1][0])
    parts.append(f'<text x="0" y="{height - 4}" class="axis">{first}</text>')
    parts.append(f'<text x="{width}" y="{height - 4}" text-anchor="end" class="axis">{last}</text>')
    parts.append(f'<text x="{width}" y="{pad_top}" text-anchor="end" class="axis">max {highest:g}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
