"""Bar charts drawn on the server as inline SVG: no script, no CDN, readable without colour."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT, AXIS = 720, 140, 18


@dataclass(frozen=True)
class Bar:
    label: str  # under the bar ("" for none)
    title: str  # the tooltip: what the bar counts
    value: int


def _number(value: float) -> str:
    # format_html escapes its arguments into strings, so numbers are formatted first.
    return f"{value:.1f}"


def bar_chart(bars: Sequence[Bar], *, caption: str) -> SafeString:
    """An SVG bar chart of `bars`, scaled to the largest value (an empty chart for no data)."""
    top = max((bar.value for bar in bars), default=0) or 1
    slot = WIDTH / max(len(bars), 1)
    plot = HEIGHT - AXIS
    shapes = format_html_join(
        "",
        '<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" '
        'class="console-bar"></rect><text x="{}" y="{}" class="console-axis">{}</text></g>',
        (
            (
                bar.title,
                _number(index * slot + 1),
                _number(plot - plot * bar.value / top),
                _number(max(slot - 2, 1)),
                _number(plot * bar.value / top),
                _number(index * slot + slot / 2),
                HEIGHT - 4,
                bar.label,
            )
            for index, bar in enumerate(bars)
        ),
    )
    return format_html(
        '<svg class="console-chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<text x="{}" y="12" class="console-axis console-max">{}</text>{}</svg>',
        WIDTH,
        HEIGHT,
        caption,
        WIDTH - 4,
        top,
        shapes,
    )
