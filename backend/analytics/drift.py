"""Drift: is the recent window of usage different from the baseline window before it?

Pure functions over window totals. Each metric has a threshold (configurable) and a bad
direction; a window with too few samples is reported as "insufficient" and never flagged,
so a quiet weekend does not page anyone.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from backend.analytics.histogram import percentile

# metric -> default threshold. Rates are compared in absolute points (0.10 = 10 points), sizes
# and latency relatively (0.25 = 25 %), the mix by total variation distance (0 same .. 1 disjoint).
DEFAULT_THRESHOLDS: dict[str, float] = {
    "insert_rate": 0.10,
    "edit_ratio": 0.10,
    "draft_length": 0.25,
    "empty_or_refused": 0.05,
    "latency_p95": 0.30,
    "provider_mix": 0.20,
    "min_samples": 30,
}
METRICS = ("insert_rate", "edit_ratio", "draft_length", "empty_or_refused", "latency_p95",
           "provider_mix")
LABELS = {
    "insert_rate": "Insert rate",
    "edit_ratio": "Edit distance (draft → sent)",
    "draft_length": "Draft length",
    "empty_or_refused": "Empty or refused drafts",
    "latency_p95": "Latency p95",
    "provider_mix": "Provider / model mix",
}


@dataclass(frozen=True)
class WindowStats:
    """Totals of one window, read from the rollup."""

    drafts: int = 0
    inserted: int = 0
    empty: int = 0
    failed: int = 0
    refusals: int = 0
    text_length_sum: int = 0
    edit_count: int = 0
    edit_ratio_sum: float = 0.0
    latency_hist: Mapping[int, int] = field(default_factory=dict)
    mix: Mapping[str, int] = field(default_factory=dict)   # "provider/model" -> drafts


@dataclass(frozen=True)
class DriftResult:
    metric: str
    label: str
    baseline: float | None
    recent: float | None
    change: float | None          # absolute or relative, as the metric's threshold is
    threshold: float
    status: str                   # ok | flagged | insufficient
    note: str = ""

    @property
    def flagged(self) -> bool:
        return self.status == "flagged"


def thresholds(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Defaults with configured overrides; unknown names are refused so typos are seen."""
    merged = dict(DEFAULT_THRESHOLDS)
    for name, value in (overrides or {}).items():
        if name not in DEFAULT_THRESHOLDS:
            raise ValueError(f"unknown drift threshold {name!r}; known: "
                             f"{sorted(DEFAULT_THRESHOLDS)}")
        merged[name] = float(value)
    return merged


def _rate(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _values(w: WindowStats) -> dict[str, tuple[float | None, int]]:
    """metric -> (value, sample size)."""
    written = w.drafts - w.empty - w.failed
    attempts = w.drafts + w.refusals
    return {
        "insert_rate": (_rate(w.inserted, w.drafts), w.drafts),
        "edit_ratio": (_rate(w.edit_ratio_sum, w.edit_count), w.edit_count),
        "draft_length": (_rate(w.text_length_sum, written), written),
        "empty_or_refused": (_rate(w.empty + w.failed + w.refusals, attempts), attempts),
        "latency_p95": (percentile(w.latency_hist, 0.95), sum(w.latency_hist.values())),
        "provider_mix": (None, sum(w.mix.values())),
    }


def mix_distance(a: Mapping[str, int], b: Mapping[str, int]) -> float | None:
    """Total variation distance between two mixes: half the sum of share differences."""
    total_a, total_b = sum(a.values()), sum(b.values())
    if not total_a or not total_b:
        return None
    keys = set(a) | set(b)
    return 0.5 * sum(abs(a.get(k, 0) / total_a - b.get(k, 0) / total_b) for k in keys)


def compare(baseline: WindowStats, recent: WindowStats,
            limits: Mapping[str, float] | None = None) -> list[DriftResult]:
    """One result per metric, flagged when the recent window moved past the threshold in the
    direction that means worse (or, for length and mix, in either direction)."""
    t = thresholds(limits)
    minimum = t["min_samples"]
    base, now = _values(baseline), _values(recent)
    results = []
    for metric in METRICS:
        (b, nb), (r, nr) = base[metric], now[metric]
        limit = t[metric]
        if metric == "provider_mix":
            b, r = None, None
            change = mix_distance(baseline.mix, recent.mix)
        else:
            change = _change(metric, b, r)
        if nb < minimum or nr < minimum or change is None:
            results.append(DriftResult(metric, LABELS[metric], b, r, change, limit,
                                       "insufficient", f"needs {int(minimum)} samples per window"))
            continue
        worse = {"insert_rate": -change, "edit_ratio": change, "empty_or_refused": change,
                 "latency_p95": change}.get(metric, abs(change))
        status = "flagged" if worse > limit else "ok"
        results.append(DriftResult(metric, LABELS[metric], b, r, change, limit, status,
                                   _note(metric, change) if status == "flagged" else ""))
    return results


def _change(metric: str, baseline: float | None, recent: float | None) -> float | None:
    if baseline is None or recent is None:
        return None
    if metric in ("draft_length", "latency_p95"):
        return (recent - baseline) / baseline if baseline else None
    return recent - baseline


def _note(metric: str, change: float) -> str:
    if metric in ("draft_length", "latency_p95"):
        return f"{change:+.0%} against the baseline"
    if metric == "provider_mix":
        return f"{change:.0%} of drafts moved to another provider or model"
    return f"{change * 100:+.1f} points against the baseline"
