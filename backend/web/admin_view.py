"""Presentation of the overview: number formats, KPI cards and the charts beside each table."""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from backend.web import charts

_CSV_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def fmt(value: Any, kind: str = "text") -> str:
    """A value as the page shows it; '—' for missing."""
    if value is None or value == "":
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "pct":
        return f"{float(value) * 100:.1f}%"
    if kind == "usd":
        v = float(value)
        return f"${v:,.2f}" if abs(v) >= 1 or v == 0 else f"${v:.4f}"
    if kind == "ms":
        v = float(value)
        return f"{v / 1000:.2f} s" if v >= 1000 else f"{v:.0f} ms"
    if kind == "float":
        return f"{float(value):.3f}".rstrip("0").rstrip(".")
    if kind == "date" and isinstance(value, date):
        return value.strftime("%a %d %b")
    return str(value)


def csv_value(value: Any, kind: str) -> str:
    """A value as the CSV holds it: machine-readable, and never a spreadsheet formula."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(round(value, 6))
    text = str(value)
    if kind == "text" and text.startswith(_CSV_DANGEROUS):
        return "'" + text
    return text


class ViewModel:
    """What the template needs beyond the overview itself."""

    def __init__(self, overview):
        self.o = overview
        k = overview.kpis
        f = overview.filters
        days = max((f.end - f.start).days + 1, 1)
        self.range_label = (f"{f.start.strftime('%d %b %Y')} – {f.end.strftime('%d %b %Y')}"
                            f" · {days} days")
        self.quick_ranges = [(label, (f.end - timedelta(days=n - 1)).isoformat(),
                              f.end.isoformat(), days == n)
                             for label, n in (("7 days", 7), ("30 days", 30), ("90 days", 90),
                                              ("12 months", 365))]
        self.kpis = [
            ("Drafts", fmt(k["drafts"], "int"), f"{k['drafts'] / days:,.0f} a day"),
            ("Active users", fmt(k["active_users"], "int"), "drafted at least once"),
            ("Insert rate", fmt(k["insert_rate"], "pct"),
             f"{fmt(k['inserted'], 'int')} drafts inserted"),
            ("Positive ratings", fmt(k["positive"], "pct"),
             f"{fmt(k['rated_up'], 'int')} up · {fmt(k['rated_down'], 'int')} down"),
            ("Latency p50 / p95", f"{fmt(k['latency_p50'], 'ms')} / {fmt(k['latency_p95'], 'ms')}",
             f"first token p50 {fmt(k['ttft_p50'], 'ms')}"),
            ("Cost", fmt(k["cost_usd"], "usd"), f"{charts.compact(k['tokens'])} tokens"),
            ("Cache savings", fmt(k["saved_usd"], "usd"),
             f"{fmt(k['cached'], 'int')} hits · {fmt(k['cache_hit_rate'], 'pct')}"),
            ("Reliability", fmt(k["failed"], "int") + " errors",
             f"{fmt(k['failover_drafts'], 'int')} failovers · "
             f"{fmt(k['offline_fallbacks'], 'int')} offline"),
            ("Refusals", fmt(k["refusals"], "int"), "rate limits and budgets"),
            ("PII redacted", fmt(k["pii"], "int"), "values replaced before sending"),
        ]
        self.flagged = [d for d in overview.drift if d.flagged]
        self.charts = self._charts()

    def _charts(self) -> dict[str, Markup]:
        t = {name: _chronological(table.rows) for name, table in self.o.tables.items()}
        days = [r["day"] for r in t["daily"]]
        out = {
            "daily": charts.stacked_bars("Drafts per day by surface", days, [
                ("Outlook", [r["outlook"] for r in t["daily"]]),
                ("Gmail", [r["gmail"] for r in t["daily"]]),
                ("API / CLI", [r["api"] for r in t["daily"]])]),
            "latency": charts.lines("Latency per day", days, [
                ("p50", [r["p50"] for r in t["latency"]]),
                ("p95", [r["p95"] for r in t["latency"]]),
                ("First token p50", [r["ttft_p50"] for r in t["latency"]])],
                fmt=_seconds),
            "surfaces": charts.hbars("Insert rate by surface", [
                (r["surface"], r["insert_rate"] or 0, fmt(r["insert_rate"], "pct"))
                for r in t["surfaces"]]),
            "providers": charts.hbars("Cost by provider and model", [
                (f"{r['provider']} · {r['model']}", r["cost_usd"], fmt(r["cost_usd"], "usd"))
                for r in t["providers"]], series=2),
            "teams": charts.hbars("Drafts by team", [
                (r["team"], r["drafts"], fmt(r["drafts"], "int")) for r in t["teams"]],
                series=1),
            "reliability": charts.stacked_bars("Errors, failovers and refusals per day", days, [
                ("Errors", [r["failed"] for r in t["reliability"]]),
                ("Failed over", [r["failover_drafts"] for r in t["reliability"]]),
                ("Offline fallbacks", [r["offline_fallbacks"] for r in t["reliability"]]),
                ("Refusals", [r["refusals"] for r in t["reliability"]])]),
            "pii": charts.hbars("Personal data redacted, by type", [
                (r["type"], r["count"], fmt(r["count"], "int")) for r in t["pii"]],
                series=3),
        }
        return out


def _chronological(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tables list days newest first; charts run left to right in time."""
    return sorted(rows, key=lambda r: r["day"]) if rows and "day" in rows[0] else rows


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.1f} s" if ms >= 1000 or ms == 0 else f"{ms:.0f} ms"
