"""The page's tables, built from rollup rows: pure, so the page and the CSV exports share them.

A Table's rows hold raw values (fractions, dollars, milliseconds); the page formats them by
column kind and the CSV writes them as they are, so both say the same thing.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from backend.analytics.histogram import percentile

SURFACE_LABELS = {"outlook": "Outlook", "gmail": "Gmail", "api": "API / CLI"}


def surface_group(surface: str) -> str:
    """Drafts made through the API and the CLI are one surface on the page."""
    return "api" if surface in ("api", "cli") else surface


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"   # text | int | pct | usd | ms | float | date


@dataclass
class Table:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _usd(value: Any) -> float:
    return round(float(Decimal(str(value or 0))), 6)


def _hist(rows: Iterable[tuple], kind: str, key=None) -> dict[Any, dict[int, int]]:
    grouped: dict[Any, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for k, day, bucket, count in rows:
        if k == kind:
            grouped[key(day) if key else None][int(bucket)] += int(count)
    return grouped


def _ms(value: float | None) -> int | None:
    return None if value is None else int(round(value))


SUMMED = ("drafts", "completed", "offline", "cancelled", "failed", "empty", "retried",
          "failover_drafts", "failovers", "offline_fallbacks", "prompt_tokens",
          "completion_tokens", "text_length_sum", "cached", "inserted", "discarded", "rated_up",
          "rated_down", "edit_count", "edit_ratio_sum", "cost_usd", "saved_usd")
PER_DAY = ("drafts", "failed", "cancelled", "retried", "failover_drafts", "offline_fallbacks")


def build_tables(days: list[date], groups: dict[str, list[dict[str, Any]]], hist: list[tuple],
                 pii: list[tuple], active: dict[str, Any], refusals: list[dict[str, Any]]
                 ) -> tuple[dict[str, Table], dict[str, Any]]:
    """All overview tables and the headline numbers (KPIs).

    `groups` holds the rollup summed by the database four ways: "day" (day, surface; PER_DAY
    columns), "surface", "provider" (provider, model) and "team" (SUMMED columns).
    """
    by_day: dict[date, dict[str, int]] = {d: defaultdict(int) for d in days}
    for row in groups["day"]:
        day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"]))
        slot = by_day.setdefault(day, defaultdict(int))
        slot[surface_group(row["surface"])] += int(row["drafts"] or 0)
        for name in PER_DAY[1:]:
            slot[name] += int(row[name] or 0)

    def bags(rows, key) -> dict[Any, dict[str, float]]:
        out: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for row in rows:
            bag = out[key(row)]
            for name in SUMMED:
                bag[name] += _usd(row[name]) if name in ("cost_usd", "saved_usd") \
                    else float(row[name] or 0)
        return out

    by_surface = bags(groups["surface"], lambda r: surface_group(r["surface"]))
    by_provider = bags(groups["provider"], lambda r: (r["provider"], r["model"]))
    by_team = bags(groups["team"], lambda r: r["team"] or "(none)")
    total: dict[str, float] = defaultdict(float)
    for bag in by_surface.values():
        for name, value in bag.items():
            total[name] += value
    refusals_by_day: dict[date, int] = defaultdict(int)
    refusals_by_limit: dict[tuple[str, str], int] = defaultdict(int)
    for refusal in refusals:
        refusals_by_day[refusal["day"]] += refusal["count"]
        refusals_by_limit[(refusal["limit"], refusal["kind"])] += refusal["count"]
    active_surface: dict[str, int] = active["surface"]
    active_team: dict[str, int] = active["team"]

    latency_day = _hist(hist, "latency", key=lambda d: d)
    ttft_day = _hist(hist, "ttft", key=lambda d: d)
    latency_all = _hist(hist, "latency")[None]
    ttft_all = _hist(hist, "ttft")[None]
    tables: dict[str, Table] = {}
    surfaces = ("outlook", "gmail", "api")
    ordered_days = sorted(by_day, reverse=True)  # newest first: what people look for
    tables["daily"] = Table("daily", "Drafts per day by surface", [
        Column("day", "Day", "date"), *[Column(s, SURFACE_LABELS[s], "int") for s in surfaces],
        Column("total", "Total", "int")],
        [{"day": d, **{s: by_day[d].get(s, 0) for s in surfaces},
          "total": sum(by_day[d].get(s, 0) for s in surfaces)} for d in ordered_days])
    tables["latency"] = Table("latency", "Latency per day", [
        Column("day", "Day", "date"), Column("p50", "p50", "ms"), Column("p95", "p95", "ms"),
        Column("ttft_p50", "First token p50", "ms"), Column("ttft_p95", "First token p95", "ms")],
        [{"day": d, "p50": _ms(percentile(latency_day.get(d, {}), 0.5)),
          "p95": _ms(percentile(latency_day.get(d, {}), 0.95)),
          "ttft_p50": _ms(percentile(ttft_day.get(d, {}), 0.5)),
          "ttft_p95": _ms(percentile(ttft_day.get(d, {}), 0.95))} for d in ordered_days])
    tables["surfaces"] = Table("surfaces", "Adoption and quality by surface", [
        Column("surface", "Surface"), Column("drafts", "Drafts", "int"),
        Column("active_users", "Active users", "int"), Column("insert_rate", "Insert rate", "pct"),
        Column("rated_up", "Rated up", "int"),
        Column("rated_down", "Rated down", "int"), Column("positive", "Positive", "pct"),
        Column("edit_ratio", "Edit dist.", "pct")],
        [{"surface": SURFACE_LABELS.get(s, s), "drafts": int(b["drafts"]),
          "active_users": active_surface.get(s, 0), "inserted": int(b["inserted"]),
          "insert_rate": _ratio(b["inserted"], b["drafts"]), "rated_up": int(b["rated_up"]),
          "rated_down": int(b["rated_down"]),
          "positive": _ratio(b["rated_up"], b["rated_up"] + b["rated_down"]),
          "edit_ratio": _ratio(b["edit_ratio_sum"], b["edit_count"])}
         for s, b in sorted(by_surface.items(), key=lambda kv: -kv[1]["drafts"])])
    tables["providers"] = Table("providers", "Tokens and cost by provider and model", [
        Column("provider", "Provider"), Column("model", "Model"),
        Column("drafts", "Drafts", "int"), Column("share", "Share", "pct"),
        Column("prompt_tokens", "Prompt tokens", "int"),
        Column("completion_tokens", "Completion tokens", "int"),
        Column("cost_usd", "Cost", "usd"), Column("cost_per_draft", "Cost / draft", "usd"),
        Column("failovers", "Failovers", "int"),
        Column("offline_fallbacks", "Offline fallbacks", "int"),
        Column("cached", "Cache hits", "int"), Column("saved_usd", "Saved by cache", "usd")],
        [{"provider": p, "model": m, "drafts": int(b["drafts"]),
          "share": _ratio(b["drafts"], total["drafts"]),
          "prompt_tokens": int(b["prompt_tokens"]),
          "completion_tokens": int(b["completion_tokens"]), "cost_usd": round(b["cost_usd"], 6),
          "cost_per_draft": round(b["cost_usd"] / b["drafts"], 6) if b["drafts"] else None,
          "failovers": int(b["failovers"]), "offline_fallbacks": int(b["offline_fallbacks"]),
          "cached": int(b["cached"]), "saved_usd": round(b["saved_usd"], 6)}
         for (p, m), b in sorted(by_provider.items(), key=lambda kv: -kv[1]["cost_usd"])])
    tables["teams"] = Table("teams", "Usage and cost by team", [
        Column("team", "Team"), Column("drafts", "Drafts", "int"),
        Column("active_users", "Active users", "int"),
        Column("insert_rate", "Insert rate", "pct"), Column("positive", "Positive", "pct"),
        Column("tokens", "Tokens", "int"), Column("cost_usd", "Cost", "usd"),
        Column("saved_usd", "Cache saved", "usd")],
        [{"team": t, "drafts": int(b["drafts"]), "active_users": active_team.get(t, 0),
          "insert_rate": _ratio(b["inserted"], b["drafts"]),
          "positive": _ratio(b["rated_up"], b["rated_up"] + b["rated_down"]),
          "tokens": int(b["prompt_tokens"] + b["completion_tokens"]),
          "cost_usd": round(b["cost_usd"], 6), "saved_usd": round(b["saved_usd"], 6)}
         for t, b in sorted(by_team.items(), key=lambda kv: -kv[1]["drafts"])])
    tables["reliability"] = Table("reliability", "Errors, failovers and refusals per day", [
        Column("day", "Day", "date"), Column("failed", "Errors", "int"),
        Column("cancelled", "Cancelled", "int"), Column("retried", "Retried", "int"),
        Column("failover_drafts", "Failed over", "int"),
        Column("offline_fallbacks", "Offline", "int"), Column("refusals", "Refusals", "int")],
        [{"day": d, **{k: by_day[d].get(k, 0) for k in
                       ("failed", "cancelled", "retried", "failover_drafts",
                        "offline_fallbacks")}, "refusals": refusals_by_day.get(d, 0)}
         for d in ordered_days],
        note="Refusals happen before a provider is chosen: the team and provider filters do "
             "not apply to them.")
    tables["refusals"] = Table("refusals", "Rate-limit and budget refusals", [
        Column("kind", "Kind"), Column("limit", "Limit"), Column("count", "Refusals", "int")],
        [{"kind": kind, "limit": limit, "count": n}
         for (limit, kind), n in sorted(refusals_by_limit.items(), key=lambda kv: -kv[1])])
    pii_total = sum(int(n) for _, n in pii)
    tables["pii"] = Table("pii", "Personal data redacted, by type", [
        Column("type", "Type"), Column("count", "Redactions", "int"),
        Column("share", "Share", "pct")],
        [{"type": t, "count": int(n), "share": _ratio(int(n), pii_total)}
         for t, n in sorted(pii, key=lambda r: (-int(r[1]), r[0]))])
    latency = {"p50": percentile(latency_all, 0.5), "p95": percentile(latency_all, 0.95)}
    ttft = {"p50": percentile(ttft_all, 0.5), "p95": percentile(ttft_all, 0.95)}
    kpis = {
        "drafts": int(total["drafts"]), "active_users": int(active["all"]),
        "inserted": int(total["inserted"]),
        "insert_rate": _ratio(total["inserted"], total["drafts"]),
        "rated_up": int(total["rated_up"]), "rated_down": int(total["rated_down"]),
        "positive": _ratio(total["rated_up"], total["rated_up"] + total["rated_down"]),
        "edit_ratio": _ratio(total["edit_ratio_sum"], total["edit_count"]),
        "latency_p50": _ms(latency["p50"]), "latency_p95": _ms(latency["p95"]),
        "ttft_p50": _ms(ttft["p50"]), "ttft_p95": _ms(ttft["p95"]),
        "tokens": int(total["prompt_tokens"] + total["completion_tokens"]),
        "cost_usd": round(total["cost_usd"], 6), "cached": int(total["cached"]),
        "cache_hit_rate": _ratio(total["cached"], total["drafts"]),
        "saved_usd": round(total["saved_usd"], 6), "failed": int(total["failed"]),
        "failover_drafts": int(total["failover_drafts"]),
        "offline_fallbacks": int(total["offline_fallbacks"]),
        "refusals": sum(r["count"] for r in refusals),
        "pii": pii_total,
    }
    return tables, kpis
