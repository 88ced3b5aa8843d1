"""With Redis configured but down: not ready, budgets fail closed, the cache steps aside."""
from __future__ import annotations

from tests.conftest import local_headers
from tests.limits.limits_support import put_limits
from tests.web.drafting_support import draft_body, fake_provider

DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once


def test_readiness_reports_redis_when_it_is_configured(make_app, redis_ns):
    client = make_app(redis_url=redis_ns.url, redis_prefix=redis_ns.prefix).test_client()
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json()["redis"] == "reachable"


def test_without_redis_the_instance_is_not_ready_and_limits_fail_closed(make_app, openai_server):
    app = make_app(redis_url=DOWN, providers=(fake_provider(openai_server),),
                   draft_cache_ttl_s=600)
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["redis"] == "unreachable"
    # No limits configured: drafting works, the unreachable cache is simply a miss.
    assert client.post("/api/v1/drafts", json=draft_body(),
                       headers=local_headers()).status_code == 200
    # With limits: they cannot be checked, so nothing is spent (503, not an unchecked call).
    put_limits(client, [{"limit": "user_daily_tokens", "value": 100_000}])
    refused = client.post("/api/v1/drafts", json=draft_body(), headers=local_headers())
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "limits_unavailable"
    assert len(openai_server.requests) == 1
