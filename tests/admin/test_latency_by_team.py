"""The latency panel honours the team filter like every other panel (issue 6), on both databases.

Expected figures are worked out by hand in analytics_support.LATENCY_BY_TEAM and below.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from sqlalchemy import select

from backend.analytics.histogram import bucket_of
from backend.governance.identity import Principal
from backend.services import analytics
from backend.storage.models import LatencyBucket, TeamLatencyBucket
from tests.admin import analytics_support as data

LATENCY_KPIS = ("latency_p50", "latency_p95", "ttft_p50", "ttft_p95")


def _viewer() -> Principal:
    return Principal(idp="local", tenant_id=data.TENANT, subject="analyst-1",
                     roles=frozenset({"analyst"}))


def _overview(rt, **filters):
    args = {**data.RANGE, **filters}
    return analytics.overview(rt, _viewer(), analytics.Filters.parse(args, date(2025, 3, 31)))


@pytest.mark.parametrize("team", list(data.LATENCY_BY_TEAM))
def test_latency_and_first_token_percentiles_are_those_of_the_chosen_team(rt, team):
    data.seed(rt)
    kpis = _overview(rt, **({"team": team} if team else {})).kpis
    assert {k: kpis[k] for k in LATENCY_KPIS} == data.LATENCY_BY_TEAM[team]


def test_two_teams_differ_and_the_unfiltered_figure_covers_both(rt):
    data.seed(rt)
    sales, support, everyone = (_overview(rt, **extra).kpis for extra in (
        {"team": "Sales"}, {"team": "Support"}, {}))
    for kpi in LATENCY_KPIS:
        assert sales[kpi] != support[kpi], kpi
        # The mixture lies between its parts (Support's drafts are the fast offline ones).
        assert support[kpi] <= everyone[kpi] <= sales[kpi], kpi
    assert everyone["latency_p50"] not in (sales["latency_p50"], support["latency_p50"])


def test_latency_per_day_follows_the_team_filter(rt):
    data.seed(rt)
    rows = {r["day"]: (r["p50"], r["p95"], r["ttft_p50"], r["ttft_p95"])
            for r in _overview(rt, team="Sales").tables["latency"].rows}
    # D1: 1000, 2000, 3000 (first tokens 200, 400, 600); D2: 5000 (1000).
    assert rows == {data.D1: (2050, 3085, 410, 617), data.D2: (5250, 5475, 1050, 1095)}
    support = _overview(rt, team="Support").tables["latency"].rows
    assert [(r["day"], r["p50"]) for r in support] == [(data.D2, 50), (data.D1, None)]


def test_team_filter_combines_with_surface_and_provider_on_latency(rt):
    data.seed(rt)
    kpis = _overview(rt, team="Sales", surface="gmail").kpis   # d3 alone: 3000 ms, 600 ms
    assert {k: kpis[k] for k in LATENCY_KPIS} == {
        "latency_p50": 3050, "latency_p95": 3095, "ttft_p50": 610, "ttft_p95": 619}
    none = _overview(rt, team="Support", provider="azure-eu").kpis  # d5 only, cancelled
    assert none["latency_p50"] is None and none["drafts"] == 1


def test_per_team_histograms_add_up_to_the_all_teams_histogram(rt):
    data.seed(rt)
    _overview(rt)  # builds the rollup
    with rt.db.session(data.TENANT) as session:
        by_team = session.execute(select(
            TeamLatencyBucket.team, TeamLatencyBucket.day, TeamLatencyBucket.surface,
            TeamLatencyBucket.provider, TeamLatencyBucket.kind, TeamLatencyBucket.bucket,
            TeamLatencyBucket.count)).all()
        summed = session.execute(select(
            LatencyBucket.day, LatencyBucket.surface, LatencyBucket.provider, LatencyBucket.kind,
            LatencyBucket.bucket, LatencyBucket.count)).all()
    added: dict[tuple, int] = defaultdict(int)
    for team, *key, count in by_team:
        added[tuple(key)] += count
    assert {row[0] for row in by_team} == {"Sales", "Support"}
    assert dict(added) == {tuple(row[:-1]): row[-1] for row in summed}
    assert sum(added.values()) == 10  # five answered drafts: a latency and a first token each


def test_drift_compares_the_chosen_teams_latency(rt):
    data.seed(rt)
    _overview(rt)  # builds the rollup

    def window(team):
        filters = analytics.Filters(data.D1, data.D2, team=team)
        with rt.db.session(data.TENANT) as session:
            return analytics.window_stats(session, data.TENANT, filters, data.D1, data.D2)

    assert window("Support").latency_hist == {bucket_of(40): 1}
    assert window("Sales").latency_hist == {bucket_of(ms): 1 for ms in (1000, 2000, 3000, 5000)}
    assert sum(window(None).latency_hist.values()) == 5


def test_a_table_without_teams_refuses_a_team_filter_instead_of_ignoring_it():
    filters = analytics.Filters(data.D1, data.D2, team="Sales")
    with pytest.raises(ValueError, match="team"):
        filters.where(LatencyBucket)
    assert filters.latency_model() is TeamLatencyBucket
    assert analytics.Filters(data.D1, data.D2).latency_model() is LatencyBucket
