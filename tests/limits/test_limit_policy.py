"""The pure limit policy: validation that names the field, windows, which counters apply."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from backend.governance.limits import (
    LimitError,
    LimitSet,
    plan,
    refusal_code,
    refusal_message,
    retry_after_s,
    window,
)

NOW = datetime(2026, 2, 28, 23, 59, 30, tzinfo=timezone.utc)


def test_a_user_override_beats_the_default_and_the_default_applies_to_everyone_else():
    limits = LimitSet.from_document([{"limit": "user_rpm", "value": 5},
                                     {"limit": "user_rpm", "value": 50, "user_id": "vip"}])
    assert limits.value_for("user_rpm", "vip") == 50
    assert limits.value_for("user_rpm", "someone") == 5
    assert limits.value_for("tenant_rpm", "") is None


@pytest.mark.parametrize("rules, field", [
    ([{"limit": "team_rpm", "value": 1}], "limits[0].limit"),
    ([{"limit": "user_rpm", "value": -1}], "limits[0].value"),
    ([{"limit": "user_rpm", "value": True}], "limits[0].value"),
    ([{"limit": "user_rpm", "value": 1, "team": "sales"}], "limits[0].team"),
    ([{"limit": "tenant_rpm", "value": 1, "user_id": "u"}], "limits[0].user_id"),
    ([{"limit": "user_rpm", "value": 1}, {"limit": "user_rpm", "value": 2}], "limits[1]"),
])
def test_invalid_rules_are_refused_naming_the_field(rules, field):
    with pytest.raises(LimitError) as caught:
        LimitSet.from_document(rules)
    assert caught.value.field == field


def test_windows_are_the_calendar_minute_the_utc_day_and_the_utc_month():
    assert window("minute", NOW).resets_at == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert window("minute", NOW).id == "202602282359"
    assert window("day", NOW).resets_at == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert window("month", NOW).resets_at == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert window("month", datetime(2026, 12, 15, tzinfo=timezone.utc)).resets_at == \
        datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert retry_after_s(window("minute", NOW).resets_at, NOW) == 30


def test_plan_counts_one_request_on_rates_and_the_reservation_on_budgets():
    limits = LimitSet.from_document([
        {"limit": "user_rpm", "value": 5}, {"limit": "tenant_rpm", "value": 100},
        {"limit": "user_daily_tokens", "value": 10_000},
        {"limit": "team_monthly_tokens", "value": 50_000, "team": "sales"},
        {"limit": "tenant_monthly_tokens", "value": 1_000_000}])
    counters = {c.limit: c for c in plan(limits, tenant_id="t", user_id="u", team="sales",
                                         now=NOW, tokens=900)}
    assert {name: c.amount for name, c in counters.items()} == {
        "user_rpm": 1, "tenant_rpm": 1, "user_daily_tokens": 900, "team_monthly_tokens": 900,
        "tenant_monthly_tokens": 900}
    assert counters["team_monthly_tokens"].key == "t|team_monthly_tokens|sales|202602"
    # A cache hit reserves nothing, and a user of another team has no team budget.
    assert {c.limit for c in plan(limits, tenant_id="t", user_id="u", team="ops", now=NOW,
                                  tokens=0)} == {"user_rpm", "tenant_rpm"}


def test_refusals_say_which_limit_and_when_it_resets_without_content():
    limits = LimitSet.from_document([{"limit": "team_daily_tokens", "value": 10}])
    (counter,) = plan(limits, tenant_id="t", user_id="u", team="sales", now=NOW, tokens=20)
    assert refusal_code(counter) == "budget_exceeded"
    assert refusal_message(counter, 30) == ("Your team's daily AI budget of 10 tokens is used "
                                            "up. It resets in 30 seconds.")
