"""POST /api/v1/drafts: JSON and streamed answers, providers, failover and the offline drafter."""
from __future__ import annotations

import base64

from sqlalchemy import func, select

from backend.storage.models import AuditEvent, Draft
from tests.conftest import FIXTURES
from tests.fakes.openai_server import Behaviour
from tests.web.drafting_support import draft_body, fake_provider, parse_sse


def _count(rt, model, tenant="local"):
    with rt.db.session(tenant) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_offline_drafter_answers_when_no_provider_is_configured(client, rt):
    response = client.post("/api/v1/drafts", json=draft_body())
    assert response.status_code == 200
    draft = response.get_json()
    assert draft["provider"] == "offline" and draft["status"] == "offline"
    assert draft["offline_fallback"] is False and draft["notice"] is None
    assert draft["text"].startswith("Dear Jane")
    assert "Could you send the invoice for March again?" in draft["text"]
    assert "<p>" in draft["html"]
    assert response.headers["X-Replywise-Identity"] == "local"
    assert draft["identity"] == "local"
    assert _count(rt, Draft) == 1


def test_configured_provider_drafts_and_usage_and_cost_are_recorded(make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server),))
    openai_server.script(Behaviour.ok("Hello Jane,\n\nI will resend the invoice today.\n\nBest,\nSam"))
    draft = app.test_client().post("/api/v1/drafts", json=draft_body()).get_json()
    assert draft["provider"] == "fake" and draft["status"] == "completed"
    assert draft["text"] == "Hello Jane,\n\nI will resend the invoice today.\n\nBest,\nSam"
    assert draft["usage"]["prompt_tokens"] > 0 and draft["usage"]["completion_tokens"] > 0
    expected = (0.00015 * draft["usage"]["prompt_tokens"]
                + 0.0006 * draft["usage"]["completion_tokens"]) / 1000
    assert abs(float(draft["cost_usd"]) - expected) < 1e-6
    rt = app.extensions["replywise"]
    with rt.db.session("local") as session:
        row = session.get(Draft, draft["id"])
        assert row.provider == "fake" and row.prompt_tokens == draft["usage"]["prompt_tokens"]
        assert row.text is None  # no content kept unless the tenant opts in
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "draft.create")).one()
        assert event.provider == "fake" and event.cost_usd == draft["cost_usd"]


def test_stream_sends_deltas_then_one_done_event_with_the_whole_draft(make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server),))
    openai_server.script(Behaviour.ok("Hello Jane,\n\nThe invoice is attached again. "
                                      "Delivery is on Friday.\n\nBest regards,\nSam"))
    response = app.test_client().post("/api/v1/drafts", json=draft_body(),
                                      headers={"Accept": "text/event-stream"})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = parse_sse(response.get_data(as_text=True))
    names = [name for name, _ in events]
    assert names.count("done") == 1 and names[-1] == "done"
    assert names.count("delta") >= 3
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert streamed.strip() == events[-1][1]["text"]


def test_failover_to_the_next_provider_when_the_first_keeps_failing(make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server, name="first"),
                              fake_provider(openai_server, name="second")),
                   max_attempts_per_provider=2)
    openai_server.script(Behaviour.error(500), Behaviour.error(503), Behaviour.ok("Fine."))
    draft = app.test_client().post("/api/v1/drafts", json=draft_body()).get_json()
    assert draft["provider"] == "second"
    assert draft["failovers"] == 1 and draft["attempts"] == 3
    assert draft["text"] == "Fine."


def test_truncated_stream_is_never_presented_as_a_finished_draft(make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server),))
    openai_server.script(Behaviour.truncate_after(4), Behaviour.ok("Complete answer here."))
    response = app.test_client().post("/api/v1/drafts", json=draft_body(),
                                      headers={"Accept": "text/event-stream"})
    events = parse_sse(response.get_data(as_text=True))
    assert events[-1][0] == "done"
    assert events[-1][1]["text"] == "Complete answer here."
    assert events[-1][1]["attempts"] == 2


def test_every_provider_down_gives_the_offline_draft_and_says_so(make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server, name="a"),
                              fake_provider(openai_server, name="b")),
                   max_attempts_per_provider=1)
    openai_server.set_default(Behaviour.error(500))
    draft = app.test_client().post("/api/v1/drafts", json=draft_body()).get_json()
    assert draft["provider"] == "offline" and draft["offline_fallback"] is True
    assert "offline draft" in draft["notice"]
    assert draft["text"].startswith("Dear Jane")


def test_raw_rfc822_message_is_accepted(client):
    raw = (FIXTURES / "mail").glob("*.eml")
    first = sorted(raw)[0].read_bytes()
    response = client.post("/api/v1/drafts",
                           json={"raw_message": base64.b64encode(first).decode()})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["text"]


def test_options_are_honoured_by_the_offline_drafter(client):
    formal = client.post("/api/v1/drafts", json=draft_body(tone="formal")).get_json()
    friendly = client.post("/api/v1/drafts", json=draft_body(tone="friendly")).get_json()
    assert formal["text"] != friendly["text"]
    french = client.post("/api/v1/drafts", json=draft_body(language="fr")).get_json()
    assert french["language"] == "fr" and "Bonjour" in french["text"]


def test_refinement_rewrites_the_previous_draft(client):
    first = client.post("/api/v1/drafts", json=draft_body(length="long")).get_json()
    shorter = client.post("/api/v1/drafts", json=draft_body(
        refine="shorter", previous_draft=first["text"])).get_json()
    assert len(shorter["text"]) < len(first["text"])


def test_failed_recording_leaves_nothing_half_written(client, rt, monkeypatch):
    from backend.services import audit

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record", broken)
    client.post("/api/v1/drafts", json=draft_body())  # creates the user first (also audited)
    monkeypatch.undo()
    before = _count(rt, Draft)
    monkeypatch.setattr("backend.services.drafts_store.audit.record", broken)
    response = client.post("/api/v1/drafts", json=draft_body())
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "Traceback" not in response.get_data(as_text=True)
    assert _count(rt, Draft) == before
