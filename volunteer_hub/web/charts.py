"""Charts drawn on the server as SVG with leather: attributes only, no inline style or script,
so they sit inside pages under our Content-Security-Policy and print as they look.

leather draws the bars, the axes and the tick labels. What it does not do, this module does
around it (docs/architecture.md):

* titles: leather writes a title as one SVG ``<text>`` that never wraps and is cut off at the
  chart's edge, so the title is an HTML ``<figcaption>`` instead (it wraps like any text) and
  the SVG carries it as its ``<title>``, with its figures in words in a ``<desc>``;
* width: a viewBox makes the SVG as wide as its box; a single chart is drawn twice, narrow for
  phones and wide for screens (CSS shows one), so its text stays readable at 390 and at
  1280 px instead of being scaled down or blown up;
* numbers: the value axis gets whole-number ticks chosen here and written in the page's
  language (``1.234`` in Vietnamese), and long labels are shortened (the full text is in the
  ``<desc>`` and in the table beside the chart).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from xml.sax.saxutils import escape

import leather
from flask_babel import format_decimal
from flask_babel import gettext as _
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
leather.theme.tick_font_size = 13
leather.theme.tick_font_char_width = 7.5
leather.theme.tick_font_char_height = 13
leather.theme.label_color = "#555555"
leather.theme.tick_color = "#e4e4e4"
leather.theme.margin = 0.03

PALETTE = ("#b3261e", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")

#: Widths (SVG units, about CSS px at scale 1) of the phone and the screen drawings.
NARROW, WIDE = 320, 1000
#: Width of each small multiple's screen drawing (two or three side by side).
SMALL = 440
#: Longest category label drawn, per drawing; longer ones end in "…".
_LABEL_CHARS = {NARROW: 17, SMALL: 22, WIDE: 40}
#: Value ticks wanted, per drawing.
_TICKS = {NARROW: 4, SMALL: 5, WIDE: 8}
#: Bars drawn before the rest are summed into one "others" bar.
TOP = 10


def _number(value: float) -> str:
    return format_decimal(value, "#,##0.#")


def _nice_ticks(top: float, wanted: int) -> list[int]:
    """Whole-number ticks from 0 covering ``top`` in steps of 1, 2 or 5 × 10^k."""
    if top <= 0:
        return [0, 1]
    raw = max(1.0, top / wanted)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = math.ceil(top / step)
    return [int(i * step) for i in range(count + 1)]


def _short(label: str, chars: int) -> str:
    return label if len(label) <= chars else label[: chars - 1].rstrip() + "…"


def _svg(svg: str, title: str, desc: str, css_class: str) -> str:
    """Make leather's SVG scalable (a viewBox, no fixed size) and accessible (title, desc)."""
    match = re.match(r'<svg width="(\d+)" height="(\d+)"', svg)
    if match is None:  # pragma: no cover - leather always writes these first
        raise ValueError("unexpected SVG from leather")
    width, height = match.groups()
    label = escape(title, {'"': "&quot;"})
    opening = (
        f'<svg class="{css_class}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-label="{label}"'
    )
    svg = svg.replace(match.group(0), opening, 1)
    head = svg.index(">") + 1
    return f"{svg[:head]}<title>{escape(title)}</title><desc>{escape(desc)}</desc>{svg[head:]}"


def _describe(rows: Sequence[tuple[str, float]]) -> str:
    return "; ".join(f"{label}: {_number(value)}" for label, value in rows)


def _figure(title: str, drawings: list[str], css_class: str = "chart-figure") -> Markup:
    caption = f"<figcaption>{escape(title)}</figcaption>"
    # leather builds the SVG with ElementTree, which escapes every label; titles are escaped.
    return Markup(f'<figure class="{css_class}">{caption}{"".join(drawings)}</figure>')  # noqa: S704


def _bar_svg(
    rows: list[tuple[str, float]], width: int, colour: str, *, title: str, desc: str, css: str
) -> str:
    chars = _LABEL_CHARS.get(width, _LABEL_CHARS[NARROW])
    labels = _unique([_short(label, chars) for label, _v in rows])
    ticks = _nice_ticks(max(v for _l, v in rows), _TICKS.get(width, _TICKS[NARROW]))
    chart = leather.Chart()
    chart.add_bars(
        [(v, label) for label, (_l, v) in zip(labels, rows, strict=True)], fill_color=colour
    )
    chart.set_x_scale(leather.Linear(0, ticks[-1]))
    chart.add_x_axis(ticks=ticks, tick_formatter=lambda v, _i, _n: _number(v))
    height = 40 + 30 * len(rows)
    return _svg(chart.to_svg(width=width, height=height), title, desc, css)


def _unique(labels: list[str]) -> list[str]:
    """Shortened labels can collide; an ordinal scale needs each once."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def bars(title: str, rows: list[tuple[str, float]], *, colour: str = PALETTE[0]) -> Markup:
    """A horizontal bar chart, one bar per (label, value) with a value, biggest first."""
    ordered = sorted(((label, v) for label, v in rows if v), key=lambda r: (-r[1], r[0]))
    if not ordered:
        return Markup("")
    desc = _describe(ordered)
    drawings = [
        _bar_svg(ordered, NARROW, colour, title=title, desc=desc, css="chart-narrow"),
        _bar_svg(ordered, WIDE, colour, title=title, desc=desc, css="chart-wide"),
    ]
    return _figure(title, drawings)


def top_with_others(
    categories: list[str], series: list[tuple[str, list[float]]], top: int = TOP
) -> tuple[list[str], list[tuple[str, list[float]]]]:
    """Keep the categories with any value, the ``top`` biggest (by the first series, then the
    others), the rest summed into one "others" category."""
    kept = [i for i in range(len(categories)) if any(values[i] for _n, values in series)]
    kept.sort(key=lambda i: ([-values[i] for _n, values in series], categories[i]))
    shown, rest = kept[:top], kept[top:]
    if len(rest) == 1:  # an "others" bar for one place hides its name for nothing
        shown, rest = kept, []
    names = [categories[i] for i in shown]
    if rest:
        names.append(_("Others (%(n)s)", n=format_decimal(len(rest))))
    out = []
    for name, values in series:
        picked = [values[i] for i in shown]
        if rest:
            picked.append(sum(values[i] for i in rest))
        out.append((name, picked))
    return names, out


def grouped(
    categories: list[str], series: list[tuple[str, list[float]]], *, top: int = TOP
) -> Markup:
    """Small multiples: one bar chart per series over the same categories, side by side on a
    screen and one below the other on a phone. Categories with no value are left out, and
    past the ``top`` biggest the rest make one "others" bar."""
    names, picked = top_with_others(categories, series, top)
    if not names:
        return Markup("")
    figures = []
    for index, (name, values) in enumerate(picked):
        rows = list(zip(names, values, strict=True))
        desc = _describe(rows)
        colour = PALETTE[index % len(PALETTE)]
        drawings = [
            _bar_svg(rows, width, colour, title=name, desc=desc, css=css)
            for width, css in ((NARROW, "chart-narrow"), (SMALL, "chart-wide"))
        ]
        figures.append(_figure(name, drawings))
    return Markup('<div class="chart-grid">') + Markup("").join(figures) + Markup("</div>")


def _column_svg(
    labels: list[str], values: list[float], width: int, colour: str, *, title: str, css: str
) -> str:
    # Every bucket keeps its column; only some are labelled, so the labels never overlap.
    longest = max(len(label) for label in labels)
    room = max(1, int((width * 0.85) // ((longest + 2) * leather.theme.tick_font_char_width)))
    every = max(1, math.ceil(len(labels) / room))
    ticks = _nice_ticks(max(values), _TICKS.get(width, _TICKS[NARROW]) - 1)
    chart = leather.Chart()
    chart.add_columns(list(zip(labels, values, strict=True)), fill_color=colour)
    chart.add_x_axis(ticks=labels[::every], tick_formatter=lambda v, _i, _n: v)
    chart.set_y_scale(leather.Linear(0, ticks[-1]))
    chart.add_y_axis(ticks=ticks, tick_formatter=lambda v, _i, _n: _number(v))
    height = 220 if width == NARROW else 260
    desc = _describe(list(zip(labels, values, strict=True)))
    return _svg(chart.to_svg(width=width, height=height), title, desc, css)


def columns(title: str, labels: list[str], series: list[tuple[str, list[float]]]) -> Markup:
    """Columns over time, one chart per series (each drawn for the phone and for a screen)."""
    if not labels or not any(any(values) for _n, values in series):
        return Markup("")
    figures = []
    for index, (name, values) in enumerate(series):
        colour = PALETTE[(index + 1) % len(PALETTE)]
        full = f"{title}: {name}"
        drawings = [
            _column_svg(labels, values, NARROW, colour, title=full, css="chart-narrow"),
            _column_svg(labels, values, WIDE, colour, title=full, css="chart-wide"),
        ]
        figures.append(_figure(name, drawings))
    return Markup("").join(figures)
