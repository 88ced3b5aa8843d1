"""Drift: which metrics move past their thresholds between baseline and recent windows."""
from __future__ import annotations

import pytest

from backend.analytics import drift
from backend.analytics.histogram import bucket_of, merge


def _window(**changes) -> drift.WindowStats:
    base = dict(drafts=1000, inserted=600, empty=10, failed=5, refusals=5,
                text_length_sum=985 * 800, edit_count=400, edit_ratio_sum=80.0,
                latency_hist=merge((bucket_of(ms), 1) for ms in range(1000, 3000, 2)),
                mix={"azure-eu/gpt-4o-mini": 900, "openai/gpt-4o": 100})
    base.update(changes)
    return drift.WindowStats(**base)


def _by_metric(results):
    return {r.metric: r for r in results}


def test_identical_windows_flag_nothing():
    results = drift.compare(_window(), _window())
    assert [r.status for r in results] == ["ok"] * len(drift.METRICS)


@pytest.mark.parametrize("recent, metric", [
    ({"inserted": 480}, "insert_rate"),                          # 60 % -> 48 %: -12 points
    ({"edit_ratio_sum": 130.0}, "edit_ratio"),                   # 0.20 -> 0.325
    ({"text_length_sum": 985 * 500}, "draft_length"),            # 800 -> 500 chars: -37 %
    ({"empty": 70}, "empty_or_refused"),                         # 2 % -> 8 %
    ({"latency_hist": merge((bucket_of(ms), 1) for ms in range(2000, 6000, 4))}, "latency_p95"),
    ({"mix": {"azure-eu/gpt-4o-mini": 500, "openai/gpt-4.1": 500}}, "provider_mix"),
])
def test_a_metric_past_its_threshold_is_flagged_alone(recent, metric):
    results = _by_metric(drift.compare(_window(), _window(**recent)))
    assert results[metric].flagged, results[metric]
    assert [m for m, r in results.items() if r.flagged] == [metric]


def test_improvements_are_not_flagged():
    results = _by_metric(drift.compare(_window(), _window(inserted=800, empty=0,
                                                          edit_ratio_sum=20.0)))
    assert not any(r.flagged for r in results.values())


def test_too_few_drafts_is_insufficient_not_flagged():
    results = _by_metric(drift.compare(_window(), _window(drafts=10, inserted=0)))
    assert results["insert_rate"].status == "insufficient"


def test_thresholds_are_configurable_and_unknown_names_refused():
    loose = drift.compare(_window(), _window(inserted=480), {"insert_rate": 0.2})
    assert not _by_metric(loose)["insert_rate"].flagged
    with pytest.raises(ValueError, match="insert_rat"):
        drift.thresholds({"insert_rat": 0.1})


def test_mix_distance_is_total_variation():
    assert drift.mix_distance({"a": 1}, {"a": 5}) == 0
    assert drift.mix_distance({"a": 1}, {"b": 1}) == 1
    assert drift.mix_distance({"a": 3, "b": 1}, {"a": 1, "b": 1}) == pytest.approx(0.25)
