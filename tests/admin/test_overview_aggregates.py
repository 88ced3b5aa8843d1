"""The overview's numbers on a history with known answers, on SQLite and PostgreSQL alike."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from backend.config import Settings
from backend.governance.identity import Principal
from backend.services import analytics, analytics_rollup
from backend.services.runtime import build_runtime
from tests.conftest import _empty_tables
from tests.admin import analytics_support as data


def _viewer(rt) -> Principal:
    return Principal(idp="local", tenant_id=data.TENANT, subject="analyst-1",
                     roles=frozenset({"analyst"}))


def _overview(rt, **filters):
    args = {**data.RANGE, **filters}
    return analytics.overview(rt, _viewer(rt), analytics.Filters.parse(args, date(2025, 3, 31)))


def test_overview_matches_the_hand_computed_answers(rt):
    data.seed(rt)
    kpis = _overview(rt).kpis
    for name, expected in data.EXPECTED.items():
        assert kpis[name] == pytest.approx(expected), name


def test_drafts_per_day_are_split_by_surface_with_api_and_cli_together(rt):
    data.seed(rt)
    daily = _overview(rt).tables["daily"].rows
    assert [(r["day"], r["outlook"], r["gmail"], r["api"], r["total"]) for r in daily] == [
        (data.D2, 1, 1, 2, 4), (data.D1, 2, 1, 0, 3)]  # newest first


def test_tables_by_team_provider_and_pii_type(rt):
    data.seed(rt)
    tables = _overview(rt).tables
    teams = {r["team"]: (r["drafts"], r["active_users"], r["insert_rate"])
             for r in tables["teams"].rows}
    assert teams == {"Sales": (4, 2, 0.5), "Support": (2, 1, 0.5), "(none)": (1, 1, 0.0)}
    providers = {(r["provider"], r["model"]): (r["drafts"], r["cost_usd"], r["failovers"])
                 for r in tables["providers"].rows}
    assert providers == {("azure-eu", "gpt-4o-mini"): (5, pytest.approx(0.072), 0),
                         ("openai", "gpt-4o"): (1, pytest.approx(0.03), 1),
                         ("offline", "offline"): (1, 0.0, 1)}
    assert {r["type"]: r["count"] for r in tables["pii"].rows} == {"EMAIL": 3, "PERSON": 3,
                                                                   "PHONE": 1}
    assert {(r["kind"], r["limit"]): r["count"] for r in tables["refusals"].rows} == {
        ("rate", "user_rpm"): 1, ("budget", "team_monthly_tokens"): 1}
    reliability = {r["day"]: (r["failed"], r["cancelled"], r["failover_drafts"],
                              r["offline_fallbacks"], r["refusals"])
                   for r in tables["reliability"].rows}
    assert reliability == {data.D1: (0, 0, 1, 0, 1), data.D2: (1, 1, 1, 1, 1)}


@pytest.mark.parametrize("filters, drafts, active, refusals", [
    ({"surface": "gmail"}, 2, 2, 1),
    ({"surface": "api"}, 2, 2, 0),
    ({"team": "Sales"}, 4, 2, 1),
    ({"team": "(none)"}, 1, 1, 0),
    ({"provider": "azure-eu"}, 5, 4, 2),   # refusals precede any provider: not filtered
    ({"surface": "outlook", "team": "Sales", "provider": "azure-eu"}, 3, 2, 1),
    ({"from": "2025-03-04"}, 4, 3, 1),
])
def test_filters_narrow_every_number(rt, filters, drafts, active, refusals):
    data.seed(rt)
    kpis = _overview(rt, **filters).kpis
    assert (kpis["drafts"], kpis["active_users"], kpis["refusals"]) == (drafts, active, refusals)


def test_filter_options_list_the_tenants_teams_and_providers(rt):
    data.seed(rt)
    options = _overview(rt).options
    assert options == {"teams": ["(none)", "Sales", "Support"],
                       "providers": ["azure-eu", "offline", "openai"]}


def test_new_drafts_and_late_feedback_reach_the_rollup_incrementally(rt, client, monkeypatch):
    monkeypatch.setattr(analytics_rollup, "REFRESH_EVERY_S", 0.0)
    data.seed(rt)
    assert _overview(rt).kpis["inserted"] == 3
    # Feedback given today on a draft of D2 makes D2 dirty again.
    with rt.db.session(data.TENANT) as session:
        session.execute(text("INSERT INTO feedback (id, tenant_id, draft_id, user_id, action, "
                             "created_at) VALUES ('late', :t, 'd7', 'user-u2', 'inserted', :now)"),
                        {"t": data.TENANT, "now": analytics_rollup.utcnow()})
    assert _overview(rt).kpis["inserted"] == 4
    # A draft made now lands on today.
    response = client.post("/api/v1/drafts", headers=data.VIEWER, json={"message": {
        "from": "Jo <jo@example.com>", "subject": "Hi", "body_text": "Can we meet Tuesday?"}})
    assert response.status_code == 200
    today = analytics.today().isoformat()
    kpis = _overview(rt, **{"from": today, "to": today}).kpis
    assert kpis["drafts"] == 1 and kpis["active_users"] == 1


def test_rebuilding_a_day_twice_gives_the_same_rollup(rt):
    data.seed(rt)
    first = _overview(rt).kpis
    with rt.db.session(data.TENANT) as session:
        analytics_rollup.recompute(session, data.TENANT, [data.D1, data.D2])
    assert _overview(rt).kpis == first


def test_other_tenants_usage_never_counts(rt):
    data.seed(rt)
    other = Principal(idp="local", tenant_id="globex", subject="a",
                      roles=frozenset({"analyst"}))
    result = analytics.overview(rt, other, analytics.Filters.parse(data.RANGE, data.D2))
    assert result.kpis["drafts"] == 0 and result.tables["teams"].rows == []


@pytest.fixture
def postgres_rt(postgres_url, tmp_path):
    """A runtime on PostgreSQL only (percentile_cont exists there alone)."""
    rt = build_runtime(Settings(data_dir=tmp_path, database_url=postgres_url,
                                pseudonym_key=b"test-pseudonym-key-0123456789"))
    yield rt
    _empty_tables(rt.db.engine)
    rt.close()


def test_histogram_percentiles_agree_with_postgres_percentile_cont(postgres_rt):
    """With enough drafts the bucketed p50/p95 land within one bucket of the exact answer.
    (The same histogram code answers on SQLite; the hand-computed test runs on both.)"""
    rt = postgres_rt
    data.seed(rt)
    with rt.db.session(data.TENANT) as session:
        session.execute(text(
            "INSERT INTO drafts (id, tenant_id, user_id, surface, status, provider, model, tone, "
            "length, language, prompt_tokens, completion_tokens, cost_usd, latency_ms, attempts, "
            "failovers, offline_fallback, text_length, pii_counts, created_at) "
            "SELECT 'g' || i, :t, 'user-u1', 'outlook', 'completed', 'azure-eu', 'gpt-4o-mini', "
            "'neutral', 'medium', 'en', 1, 1, 0, (300 + (i * 7919) % 6000), 1, 0, false, 10, "
            "'{}', :day FROM generate_series(1, 2000) AS i"),
            {"t": data.TENANT, "day": data.at(data.D1, 14)})
        exact = session.execute(text(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) FROM drafts "
            "WHERE tenant_id = :t AND status NOT IN ('cancelled', 'failed')"),
            {"t": data.TENANT}).one()
    kpis = _overview(rt).kpis
    assert kpis["latency_p50"] == pytest.approx(exact[0], abs=100)
    assert kpis["latency_p95"] == pytest.approx(exact[1], abs=500)


def test_month_masks_cover_exactly_the_days_of_the_range():
    masks = analytics.month_masks(date(2025, 1, 30), date(2025, 3, 2))
    assert masks == [(date(2025, 1, 1), (1 << 29) | (1 << 30)),
                     (date(2025, 2, 1), (1 << 28) - 1), (date(2025, 3, 1), 0b11)]


def test_active_users_across_a_month_boundary_count_each_person_once(rt):
    data.seed(rt)
    with rt.db.session(data.TENANT) as session:
        session.execute(text(
            "INSERT INTO drafts (id, tenant_id, user_id, surface, status, provider, model, tone, "
            "length, language, prompt_tokens, completion_tokens, cost_usd, latency_ms, attempts, "
            "failovers, offline_fallback, text_length, pii_counts, created_at) VALUES "
            "('feb', :t, 'user-u1', 'outlook', 'completed', 'azure-eu', 'gpt-4o-mini', 'neutral',"
            " 'medium', 'en', 1, 1, 0, 900, 1, 0, false, 10, '{}', :at)"),
            {"t": data.TENANT, "at": data.at(date(2025, 2, 28), 23)})
    kpis = _overview(rt, **{"from": "2025-02-28"}).kpis
    assert (kpis["drafts"], kpis["active_users"]) == (8, 4)   # u1 on Feb 28 and Mar 3: once
    assert _overview(rt, **{"from": "2025-02-28", "to": "2025-02-28"}).kpis["active_users"] == 1
