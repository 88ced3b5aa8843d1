"""Server-side SVG charts: stacked bars, lines and horizontal bars. No JavaScript, no CDN.

Colours come from CSS classes (series-1 ...), so the page's light and dark themes style them
and the Content-Security-Policy needs no inline styles. Every mark carries a <title>, which
browsers show as a tooltip and screen readers read.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date

from markupsafe import Markup, escape

W, H = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 12, 28


def nice_max(value: float, ticks: int = 4) -> tuple[float, float]:
    """A round axis maximum at or above `value` and its tick step."""
    if value <= 0:
        return 1.0, 1.0 / ticks
    raw = value / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * power
        if step * ticks >= value:
            return step * ticks, step
    return 10 * power * ticks, 10 * power


def compact(value: float) -> str:
    """1234 -> 1.2k, for axis labels."""
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if abs(value) >= 1_000:
        return f"{value / 1_000:.1f}k".replace(".0k", "k")
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _day_label(day: date | str) -> str:
    return day.strftime("%b %d").replace(" 0", " ") if isinstance(day, date) else str(day)


def _frame(title: str, top: float, step: float, fmt: Callable[[float], str]) -> list[str]:
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    plot_h = H - TOP - BOTTOM
    ticks = int(round(top / step)) if step else 0
    for i in range(ticks + 1):
        y = TOP + plot_h - plot_h * (i * step / top)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{escape(fmt(i * step))}</text>')
    return parts


def _x_labels(categories: Sequence, x_of: Callable[[int], float]) -> list[str]:
    n = len(categories)
    if not n:
        return []
    every = max(1, math.ceil(n / 8))
    parts = []
    for i in range(0, n, every):
        parts.append(f'<text class="axis" x="{x_of(i):.1f}" y="{H - 8}" '
                     f'text-anchor="middle">{escape(_day_label(categories[i]))}</text>')
    return parts


def stacked_bars(title: str, categories: Sequence, series: Sequence[tuple[str, Sequence[float]]],
                 fmt: Callable[[float], str] = compact) -> Markup:
    """Bars per category (day), one stacked segment per series."""
    totals = [sum(values[i] or 0 for _, values in series) for i in range(len(categories))]
    top, step = nice_max(max(totals, default=0))
    parts = _frame(title, top, step, fmt)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(categories), 1)
    slot = plot_w / n
    bar = max(1.0, slot * 0.72)
    for i, category in enumerate(categories):
        base = 0.0
        x = LEFT + slot * i + (slot - bar) / 2
        for k, (name, values) in enumerate(series):
            value = values[i] or 0
            if value <= 0:
                continue
            h = plot_h * value / top
            y = TOP + plot_h - plot_h * (base + value) / top
            parts.append(f'<rect class="bar series-{k + 1}" x="{x:.2f}" y="{y:.2f}" '
                         f'width="{bar:.2f}" height="{h:.2f}"><title>{escape(_day_label(category))}'
                         f' · {escape(name)}: {escape(fmt(value))}</title></rect>')
            base += value
    parts += _x_labels(categories, lambda i: LEFT + slot * i + slot / 2)
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(title: str, categories: Sequence, series: Sequence[tuple[str, Sequence[float | None]]],
          fmt: Callable[[float], str] = compact) -> Markup:
    """One line per series; gaps where a value is missing."""
    peak = max((v for _, values in series for v in values if v is not None), default=0)
    top, step = nice_max(peak)
    parts = _frame(title, top, step, fmt)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(categories)

    def x_of(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    for k, (name, values) in enumerate(series):
        runs: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            y = TOP + plot_h - plot_h * value / top
            runs[-1].append(f"{x_of(i):.1f},{y:.1f}")
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="line series-{k + 1}" points="{" ".join(run)}"/>')
        for i, value in enumerate(values):
            if value is not None and (n <= 62 or len([v for v in values if v is not None]) == 1):
                y = TOP + plot_h - plot_h * value / top
                parts.append(f'<circle class="dot series-{k + 1}" cx="{x_of(i):.1f}" '
                             f'cy="{y:.1f}" r="2.5"><title>{escape(_day_label(categories[i]))} · '
                             f'{escape(name)}: {escape(fmt(value))}</title></circle>')
    parts += _x_labels(categories, x_of)
    parts.append("</svg>")
    return Markup("".join(parts))


def hbars(title: str, items: Sequence[tuple[str, float, str]], series: int = 1) -> Markup:
    """Horizontal bars: (label, value, shown text) per row, longest first as given."""
    width, row_h, label_w, text_w = 600, 28, 150, 90
    height = max(row_h * len(items) + 8, 40)
    parts = [f'<svg class="chart hbars" viewBox="0 0 {width} {height}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    peak = max((v for _, v, _ in items), default=0) or 1
    span = width - label_w - text_w
    for i, (label, value, shown) in enumerate(items):
        y = 4 + i * row_h
        width = max(span * value / peak, 1.5 if value > 0 else 0)
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(f'<text class="label" x="{label_w - 8}" y="{y + 18}" '
                     f'text-anchor="end">{escape(short)}</text>')
        parts.append(f'<rect class="track" x="{label_w}" y="{y + 6}" width="{span}" '
                     f'height="16" rx="3"/>')
        parts.append(f'<rect class="bar series-{series}" x="{label_w}" y="{y + 6}" '
                     f'width="{width:.2f}" height="16" rx="3"><title>{escape(label)}: '
                     f'{escape(shown)}</title></rect>')
        parts.append(f'<text class="value" x="{label_w + width + 6:.1f}" y="{y + 18}">'
                     f'{escape(shown)}</text>')
    if not items:
        parts.append(f'<text class="axis" x="{width / 2}" y="24" text-anchor="middle">'
                     "No data in this range</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
