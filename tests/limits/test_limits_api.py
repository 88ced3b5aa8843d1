"""Limits through the API and the CLI: admin routes, 429 naming the limit, audit and counting."""
from __future__ import annotations

import json

from sqlalchemy import update

from backend.storage.models import User
from tests.conftest import local_headers
from tests.limits.limits_support import counters, fresh_minute, put_limits, refusals
from tests.web.drafting_support import draft_body, fake_provider, parse_sse
from tests.web.governance_support import audit_rows, set_roles


def test_user_rpm_admits_n_then_answers_429_naming_the_limit_with_retry_after(client, rt):
    put_limits(client, [{"limit": "user_rpm", "value": 2}])
    fresh_minute()
    headers = local_headers(user="alice")
    answers = [client.post("/api/v1/drafts", json=draft_body(), headers=headers)
               for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    error = answers[2].get_json()["error"]
    assert (error["code"], error["limit"]) == ("rate_limited", "user_rpm")
    assert 1 <= error["retry_after"] <= 60
    assert answers[2].headers["Retry-After"] == str(error["retry_after"])
    assert "2 drafts per minute" in error["message"]
    # Another user of the tenant has their own allowance.
    assert client.post("/api/v1/drafts", json=draft_body(),
                       headers=local_headers(user="bob")).status_code == 200
    # Refused: audited as denied, counted for analytics, and not counted against the limit.
    (event,) = audit_rows(rt, "local", "limit.refused")
    assert event.result == "denied"
    assert event.details["limit"] == "user_rpm" and event.details["surface"] == "api"
    assert refusals(rt) == ["user_rpm"]
    assert sorted(counters(rt).values()) == [1, 2]


def test_a_streamed_request_is_refused_before_any_event_is_sent(client):
    put_limits(client, [{"limit": "tenant_rpm", "value": 0}])
    response = client.post("/api/v1/drafts", json=draft_body(),
                           headers={**local_headers(), "Accept": "text/event-stream"})
    assert response.status_code == 429
    assert response.content_type.startswith("application/json")
    assert response.get_json()["error"]["limit"] == "tenant_rpm"


def test_a_budget_refusal_names_the_budget_and_waits_until_the_window_resets(make_app,
                                                                           openai_server):
    app = make_app(providers=(fake_provider(openai_server),))
    client = app.test_client()
    put_limits(client, [{"limit": "tenant_daily_tokens", "value": 50}])
    response = client.post("/api/v1/drafts", json=draft_body(), headers=local_headers())
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert (error["code"], error["limit"]) == ("budget_exceeded", "tenant_daily_tokens")
    assert 1 <= int(response.headers["Retry-After"]) <= 86_400
    assert openai_server.requests == []  # refused before the provider was called


def test_a_team_budget_binds_members_of_that_team_only(make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server),))
    client, rt = app.test_client(), app.extensions["replywise"]
    alice = client.get("/api/v1/me", headers=local_headers(user="alice")).get_json()["user_id"]
    client.get("/api/v1/me", headers=local_headers(user="bob"))
    with rt.db.session("local") as session:
        session.execute(update(User).where(User.id == alice).values(team="sales"))
    put_limits(client, [{"limit": "team_daily_tokens", "value": 50, "team": "sales"}])
    refused = client.post("/api/v1/drafts", json=draft_body(), headers=local_headers(user="alice"))
    assert refused.get_json()["error"]["limit"] == "team_daily_tokens"
    assert client.post("/api/v1/drafts", json=draft_body(),
                       headers=local_headers(user="bob")).status_code == 200


def test_admins_read_and_replace_limits_and_invalid_rules_name_the_field(client, rt):
    answer = put_limits(client, [{"limit": "tenant_rpm", "value": 100},
                                 {"limit": "user_daily_tokens", "value": 5000},
                                 {"limit": "user_daily_tokens", "value": 9000, "user_id": "u-vip"}])
    assert {"limit": "user_daily_tokens", "value": 9000, "user_id": "u-vip"} in answer["limits"]
    assert answer["usage"]["tenant_rpm"]["cap"] == 100
    assert client.get("/api/v1/admin/limits", headers=local_headers(user="admin")).get_json() \
        == answer
    bad = client.put("/api/v1/admin/limits", headers=local_headers(user="admin"),
                     json={"limits": [{"limit": "tenant_rpm", "value": 1, "team": "x"}]})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "limits[0].team"
    unknown = client.put("/api/v1/admin/limits", headers=local_headers(user="admin"),
                         json={"limits": [{"limit": "galaxy_rpm", "value": 1}]})
    assert unknown.status_code == 400
    assert [e.details for e in audit_rows(rt, "local", "limits.update")] == [
        {"rules": 3, "limits": ["tenant_rpm", "user_daily_tokens"]}]


def test_only_tenant_admins_manage_limits(client):
    set_roles(client, "local", "admin", "dana", {"drafter"})
    for response in (client.get("/api/v1/admin/limits", headers=local_headers(user="dana")),
                     client.put("/api/v1/admin/limits", json={"limits": []},
                                headers=local_headers(user="dana"))):
        assert response.status_code == 403
        assert response.get_json()["error"]["action"] == "limits.manage"


def test_limits_cli_sets_one_rule_at_a_time_and_shows_them(run_cli):
    assert run_cli("limits", "set", "user_rpm", "10").exit_code == 0
    result = run_cli("limits", "set", "team_daily_tokens", "2000", "--team", "sales")
    assert result.exit_code == 0, result.output
    assert run_cli("limits", "set", "user_rpm", "--clear").exit_code == 0
    shown = json.loads(run_cli("limits", "show").output)
    assert shown["limits"] == [{"limit": "team_daily_tokens", "value": 2000, "team": "sales"}]
    assert run_cli("limits", "set", "user_rpm").exit_code != 0  # neither a value nor --clear


def test_a_cached_answer_needs_no_budget_but_still_counts_as_a_request(make_app, openai_server):
    client = make_app(providers=(fake_provider(openai_server),),
                      draft_cache_ttl_s=600).test_client()
    put_limits(client, [{"limit": "user_rpm", "value": 2}])
    fresh_minute()
    first = client.post("/api/v1/drafts", json=draft_body(), headers=local_headers())
    put_limits(client, [{"limit": "user_rpm", "value": 2},
                        {"limit": "user_daily_tokens", "value": 0}])
    again = client.post("/api/v1/drafts", json=draft_body(), headers=local_headers())
    assert again.status_code == 200 and again.get_json()["cached"] is True
    assert again.get_json()["text"] == first.get_json()["text"]
    third = client.post("/api/v1/drafts", json=draft_body(), headers=local_headers())
    assert third.get_json()["error"]["limit"] == "user_rpm"
    assert len(openai_server.requests) == 1


def test_the_event_stream_of_an_admitted_draft_is_unchanged(client):
    put_limits(client, [{"limit": "user_rpm", "value": 5}])
    response = client.post("/api/v1/drafts", json=draft_body(),
                           headers={**local_headers(), "Accept": "text/event-stream"})
    assert parse_sse(response.get_data(as_text=True))[-1][0] == "done"
