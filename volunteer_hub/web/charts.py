"""Charts drawn on the server as SVG with leather: attributes only, no inline style or script,
so they sit inside pages under our Content-Security-Policy and print as they look."""

from __future__ import annotations

import re

import leather
from markupsafe import Markup

_FONT = "system-ui, -apple-system, Segoe UI, Roboto, Noto Sans, Arial, sans-serif"
for _name in (
    "axis_title_font_family",
    "legend_font_family",
    "tick_font_family",
    "title_font_family",
):
    setattr(leather.theme, _name, _FONT)
leather.theme.background_color = "#ffffff"

PALETTE = ("#b3261e", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def _scalable(svg: str) -> Markup:
    """Give the SVG a viewBox so CSS can scale it to the width of a phone."""
    match = re.match(r'<svg width="(\d+)" height="(\d+)"', svg)
    if match:
        width, height = match.groups()
        svg = svg.replace(
            match.group(0),
            f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" role="img"',
            1,
        )
    # leather builds the SVG with ElementTree, which escapes every label and title.
    return Markup(svg)  # noqa: S704


def bars(
    title: str, rows: list[tuple[str, float]], *, colour: str = PALETTE[0], width: int = 640
) -> Markup:
    """A horizontal bar chart, one bar per (label, value), biggest first."""
    ordered = sorted(((v, label) for label, v in rows if v), reverse=True)
    if not ordered:
        return Markup("")
    chart = leather.Chart(title)
    chart.add_bars(list(reversed(ordered)), fill_color=colour)
    height = 70 + 34 * len(ordered)
    return _scalable(chart.to_svg(width=width, height=height))


def grouped(
    title: str, categories: list[str], series: list[tuple[str, list[float]]], width: int = 640
) -> Markup:
    """Bars for several series side by side, as a grid of small charts (one per series)."""
    grid = leather.Grid()
    drawn = 0
    for index, (name, values) in enumerate(series):
        rows = [(v, c) for c, v in zip(categories, values, strict=True)]
        if not any(v for v, _ in rows):
            continue
        chart = leather.Chart(name)
        chart.add_bars(list(reversed(rows)), fill_color=PALETTE[index % len(PALETTE)])
        grid.add_one(chart)
        drawn += 1
    if not drawn:
        return Markup("")
    height = 70 + 30 * len(categories)
    return _scalable(grid.to_svg(width=width, height=height * drawn))
