"""Server-side SVG charts: scaled to the data, escaped, and drawn without inline styles."""
from __future__ import annotations

import re
from datetime import date

from backend.web import charts


def test_axis_maximum_is_round_and_covers_the_data():
    assert charts.nice_max(0) == (1.0, 0.25)
    assert charts.nice_max(87) == (100, 25)
    assert charts.nice_max(1234) == (2000, 500)


def test_stacked_bars_are_as_tall_as_their_values():
    svg = charts.stacked_bars("Drafts", [date(2025, 3, 3), date(2025, 3, 4)],
                              [("Outlook", [50, 100]), ("Gmail", [50, 0])])
    heights = [float(h) for h in re.findall(r'<rect class="bar[^"]*"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 3   # the zero is not drawn
    assert heights[0] == heights[1] and heights[2] == 2 * heights[0]  # 50, 50 and 100
    assert "<title>Mar 4 · Outlook: 100</title>" in svg


def test_labels_are_escaped_and_no_inline_style_is_used():
    svg = charts.hbars("Teams", [("<script>x</script>", 3, "3"), ("R&D", 1, "1")])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "R&amp;D" in svg
    assert "style=" not in svg


def test_lines_leave_gaps_where_values_are_missing():
    svg = charts.lines("Latency", ["a", "b", "c", "d"], [("p50", [1, 2, None, 4])])
    assert svg.count("<polyline") == 1   # a-b is a line; d stands alone as a dot
    assert svg.count("<circle") == 3
