"""Token budgets: reserved before the call, settled to actual usage, released on failure."""
from __future__ import annotations

import json
import threading

from sqlalchemy import select

from backend.governance.identity import Principal
from backend.services import accounts, drafting, throughput
from backend.storage.models import Draft
from backend.web.api import parse_draft_request
from tests.conftest import local_headers
from tests.fakes.openai_server import Behaviour
from tests.limits.limits_support import counters, put_limits
from tests.web.drafting_support import draft_body, fake_provider


def _app(make_app, openai_server, **settings):
    app = make_app(providers=(fake_provider(openai_server),), **settings)
    return app, app.test_client(), app.extensions["replywise"]


def _reservation(rt, user: str = "local-user") -> int:
    principal = accounts.resolve(rt, Principal(idp="local", tenant_id="local", subject=user))
    _, prepared = drafting.prepare(rt, principal, parse_draft_request(draft_body()))
    return throughput.reservation(prepared.request)


def _budget_used(rt) -> int:
    return sum(v for k, v in counters(rt).items() if k.startswith("user_daily_tokens|"))


def test_the_reservation_is_held_while_drafting_and_settled_to_actual_usage(make_app,
                                                                          openai_server):
    app, client, rt = _app(make_app, openai_server)
    put_limits(client, [{"limit": "user_daily_tokens", "value": 1_000_000}])
    openai_server.set_default(Behaviour.ok(delay_between_chunks_s=0.02))
    reserved = _reservation(rt)
    response = client.post("/api/v1/drafts", json=draft_body(), buffered=False,
                           headers={**local_headers(), "Accept": "text/event-stream"})
    chunks = iter(response.response)
    next(chunks)  # the first event: the provider is answering
    assert _budget_used(rt) == reserved
    body = b"".join(chunks).decode()
    response.close()
    done = [line for line in body.splitlines() if line.startswith("data: {\"id\"")]
    usage = json.loads(done[-1][6:])["usage"]
    assert 0 < _budget_used(rt) == usage["total_tokens"] < reserved


def test_spend_never_passes_the_budget_by_more_than_what_is_in_flight(make_app, openai_server):
    app, client, rt = _app(make_app, openai_server)
    reserved = _reservation(rt)
    budget = 2 * reserved + reserved // 2  # room for two reservations at a time
    put_limits(client, [{"limit": "user_daily_tokens", "value": budget}])
    openai_server.set_default(Behaviour.ok(latency_s=1.0))
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def draft() -> None:
        local = app.test_client()
        barrier.wait()
        response = local.post("/api/v1/drafts", json=draft_body(), headers=local_headers())
        statuses.append(response.status_code)

    threads = [threading.Thread(target=draft) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 200, 429, 429, 429, 429]
    assert len(openai_server.requests) == 2  # refused drafts never reached the provider
    with rt.db.session("local") as session:
        spent = sum(p + c for p, c in session.execute(
            select(Draft.prompt_tokens, Draft.completion_tokens)))
    assert _budget_used(rt) == spent <= budget


def test_a_failed_provider_call_refunds_the_whole_reservation(make_app, openai_server):
    app, client, rt = _app(make_app, openai_server)
    put_limits(client, [{"limit": "user_daily_tokens", "value": 1_000_000}])
    openai_server.script(Behaviour.error(400))  # refused upstream: the offline drafter answers
    answer = client.post("/api/v1/drafts", json=draft_body(), headers=local_headers())
    assert answer.get_json()["status"] == "offline"
    assert _budget_used(rt) == 0


def test_a_client_leaving_mid_stream_pays_only_for_what_was_generated(make_app, openai_server):
    app, client, rt = _app(make_app, openai_server)
    put_limits(client, [{"limit": "user_daily_tokens", "value": 1_000_000}])
    openai_server.set_default(Behaviour.ok(delay_between_chunks_s=0.05))
    reserved = _reservation(rt)
    response = client.post("/api/v1/drafts", json=draft_body(), buffered=False,
                           headers={**local_headers(), "Accept": "text/event-stream"})
    next(iter(response.response))
    response.close()  # the user closed the taskpane
    with rt.db.session("local") as session:
        (row,) = session.execute(select(Draft.status, Draft.prompt_tokens,
                                        Draft.completion_tokens)).all()
    assert row.status == "cancelled"
    assert _budget_used(rt) == row.prompt_tokens + row.completion_tokens < reserved
