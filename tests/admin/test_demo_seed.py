"""`replywise demo seed`: a new instance comes alive with months of realistic usage."""
from __future__ import annotations

from backend.config import Settings
from backend.governance.identity import Principal
from backend.services import analytics
from backend.services.runtime import build_runtime


def _overview(cli_env, tenant: str, days: int):
    rt = build_runtime(Settings.from_env(cli_env))
    try:
        today = analytics.today()
        viewer = Principal(idp="local", tenant_id=tenant, subject="a",
                           roles=frozenset({"analyst"}))
        return analytics.overview(rt, viewer, analytics.Filters.parse(
            {"from": (today.fromordinal(today.toordinal() - days + 1)).isoformat()}, today))
    finally:
        rt.close()


def test_demo_seed_fills_every_part_of_the_page(run_cli, cli_env):
    result = run_cli("demo", "seed", "--days", "45", "--users", "40", "--tenant", "demo-co")
    assert result.exit_code == 0, result.output
    overview = _overview(cli_env, "demo-co", 45)
    k = overview.kpis
    assert k["drafts"] > 1000 and k["active_users"] >= 30
    assert 0.3 < k["insert_rate"] < 0.8 and k["rated_up"] > k["rated_down"] > 0
    assert k["failover_drafts"] > 0 and k["offline_fallbacks"] > 0 and k["refusals"] > 0
    assert k["pii"] > 0 and k["cost_usd"] > 0 and k["latency_p95"] > k["latency_p50"] > 500
    surfaces = {r["surface"] for r in overview.tables["surfaces"].rows}
    assert {"Outlook", "Gmail", "API / CLI"} <= surfaces
    assert len(overview.tables["teams"].rows) == 6
    daily = {r["day"]: r["total"] for r in overview.tables["daily"].rows}
    weekdays = [n for d, n in daily.items() if d.weekday() < 5]
    weekends = [n for d, n in daily.items() if d.weekday() >= 5]
    assert sum(weekdays) / len(weekdays) > 4 * sum(weekends) / len(weekends)
    assert any(d.flagged for d in overview.drift), "the demo's last week should show drift"


def test_seeding_again_replaces_the_demo_and_keeps_the_audit_chain_valid(run_cli, cli_env):
    first = run_cli("demo", "seed", "--days", "10", "--users", "8")
    second = run_cli("demo", "seed", "--days", "10", "--users", "8")
    assert first.exit_code == second.exit_code == 0
    assert first.output.split(" in ")[0] == second.output.split(" in ")[0]  # same seed, same data
    assert _overview(cli_env, "local", 10).kpis["active_users"] <= 8
    verify = run_cli("audit", "verify")
    assert verify.exit_code == 0, verify.output
