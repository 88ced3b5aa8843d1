"""Personal data end to end: nothing reaches the provider, the user gets it back, nothing is kept.

Drafts go through a real OpenAI-compatible server on loopback that records every request; the
assertions search everything it received, every log line (caplog and the JSON log stream), the
audit trail and the drafts table for the original values.
"""
from __future__ import annotations

import io
import json
import logging
import re

import pytest
from sqlalchemy import select

from backend.logs import JsonFormatter, RequestIdFilter
from backend.storage.models import AuditEvent, Draft
from tests.conftest import local_headers
from tests.fakes.openai_server import Behaviour
from tests.web.drafting_support import fake_provider, parse_sse

T = "pii-co"
USER = local_headers(T, "barnaby", **{"X-Replywise-Name": "Barnaby Quillfeather"})
POLICY = {"pii": {"custom_patterns": {"CUSTOMER_ID": r"CUST-\d{6}"},
                  "word_lists": {"PROJECT": ["Falcon", "Bluebird"]}}}

MESSAGE = {
    "subject": "Refund for CUST-004211 (project Falcon)",
    "from": "Ottoline Vantablack <ottoline.v@acme-example.com>",
    "to": ["Barnaby Quillfeather <barnaby@corp-example.com>"],
    "cc": [{"name": "Seraphina Okonkwo", "email": "seraphina@partner-example.org"}],
    "body_text": (
        "Hi Barnaby,\n\n"
        "Please refund the duplicate charge on card 4111 1111 1111 1111 to our account "
        "GB82 WEST 1234 5698 7654 32. Payroll needs the SSN 123-45-6789 corrected. Call me on "
        "(415) 555-0132 or my London line +44 20 7946 0958, or write to "
        "ottoline.v@acme-example.com. "
        "The VPN shows logins from 192.0.2.44 and 2001:db8::1. Seraphina knows about Falcon and "
        "CUST-004211; Percival from my team will follow up.\n\n"
        "Best regards,\nPercival Drummond\nAssistant to Ottoline Vantablack\n"),
    "thread": [{"from": "Barnaby Quillfeather <barnaby@corp-example.com>",
                "body_text": "Hello Ottoline, can you send the CUST-004211 details? "
                             "Call me on 415-555-0199. Barnaby"}],
}
INSTRUCTIONS = "Copy seraphina@partner-example.org and mention Bluebird"

# Every original value, and the fragments that would betray one if it leaked in part.
FULL_VALUES = [
    "Ottoline Vantablack", "Barnaby Quillfeather", "Seraphina Okonkwo", "Percival Drummond",
    "ottoline.v@acme-example.com", "barnaby@corp-example.com", "seraphina@partner-example.org",
    "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "123-45-6789", "(415) 555-0132",
    "+44 20 7946 0958", "415-555-0199", "192.0.2.44", "2001:db8::1", "CUST-004211", "Falcon",
    "Bluebird",
]
# (No bare 4-digit fragments: random hex ids and timestamps in log lines would match them.)
FRAGMENTS = ["Ottoline", "Vantablack", "Barnaby", "Quillfeather", "Seraphina", "Okonkwo",
             "Percival", "Drummond", "ottoline.v", "4111 1111", "4111111111111111", "GB82",
             "GB82WEST", "45-6789", "555-0132", "5550132", "7946 0958", "79460958", "555-0199",
             "192.0.2.", "2001:db8", "CUST-0", "falcon", "bluebird"]
# What the user must see again after the provider answered with placeholders only.
RESTORED = ["Ottoline Vantablack", "Barnaby Quillfeather", "Seraphina", "Percival",
            "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32", "123-45-6789",
            "(415) 555-0132", "+44 20 7946 0958", "415-555-0199", "192.0.2.44", "2001:db8::1",
            "CUST-004211", "Falcon", "Bluebird", "seraphina@partner-example.org",
            "ottoline.v@acme-example.com"]
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z0-9_]*_\d+\]")


def assert_no_personal_data(text: str, where: str) -> None:
    folded = text.casefold()
    for value in FULL_VALUES + FRAGMENTS:
        assert value.casefold() not in folded, f"{value!r} leaked into {where}"


def _record_text(record: logging.LogRecord) -> str:
    """A log record's message, arguments and extra fields (what any handler could write)."""
    fields = {k: v for k, v in vars(record).items()
              if k not in ("created", "msecs", "relativeCreated", "thread", "process")}
    return record.getMessage() + json.dumps(fields, default=str)


def _request(**options):
    return {"message": MESSAGE, "options": {"instructions": INSTRUCTIONS, **options}}


@pytest.fixture
def pii_app(make_app, openai_server, client):
    app = make_app(providers=(fake_provider(openai_server),), log_level="DEBUG")
    response = app.test_client().put("/api/v1/admin/policy", json={"policy": POLICY},
                                     headers=USER)
    assert response.status_code == 200, response.get_json()
    return app


def _placeholders_sent(openai_server) -> list[str]:
    sent = json.dumps([r.body for r in openai_server.requests])
    return sorted(set(PLACEHOLDER.findall(sent)))


@pytest.fixture
def json_log():
    """The app's JSON log lines (its own formatter and request-id filter), at DEBUG."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_no_personal_value_reaches_the_provider_or_any_log_row_or_event(pii_app, openai_server,
                                                                          caplog, json_log):
    caplog.set_level(logging.DEBUG)
    client = pii_app.test_client()

    first = client.post("/api/v1/drafts", json=_request(), headers=USER)
    assert first.status_code == 200, first.get_json()
    placeholders = _placeholders_sent(openai_server)
    assert {p.rsplit("_", 1)[0] + "]" for p in placeholders} >= {
        "[PERSON]", "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SSN]", "[IP]", "[CUSTOMER_ID]",
        "[PROJECT]"}
    assert first.get_json()["pii"]["CUSTOMER_ID"] == 1 and first.get_json()["pii"]["CARD"] == 1

    # The provider answers with exactly the placeholders it was given; the user sees originals.
    answer = "Dear " + ", ".join(placeholders) + "."
    openai_server.script(Behaviour.ok(answer), Behaviour.ok(answer))
    second = client.post("/api/v1/drafts", json=_request(), headers=USER).get_json()
    for value in RESTORED:
        assert value in second["text"], f"{value!r} was not restored"
    assert not PLACEHOLDER.search(second["text"])
    streamed = parse_sse(client.post("/api/v1/drafts", json=_request(),
                                     headers={**USER, "Accept": "text/event-stream"})
                         .get_data(as_text=True))
    deltas = "".join(data["text"] for name, data in streamed if name == "delta")
    assert deltas.strip() == streamed[-1][1]["text"] == second["text"]

    # A refinement sends the previous draft back: it is redacted the same way.
    refined = client.post("/api/v1/drafts", headers=USER, json=_request(
        refine="shorter", previous_draft=second["text"]))
    assert refined.status_code == 200
    assert len(openai_server.requests) == 4

    for index, request in enumerate(openai_server.requests):
        assert_no_personal_data(json.dumps({"path": request.path, "query": request.query,
                                            "headers": request.headers, "body": request.body}),
                                f"provider request {index}")
    assert len(caplog.records) > 20  # DEBUG from the app, the openai SDK and httpx
    for record in caplog.records:
        assert_no_personal_data(_record_text(record), f"log record {record.name}")
    json_logs = json_log.getvalue()
    assert '"logger": "replywise.access"' in json_logs  # the JSON stream was captured
    assert_no_personal_data(json_logs, "the JSON log stream")

    rt = pii_app.extensions["replywise"]
    with rt.db.engine.connect() as conn:
        events = [dict(r._mapping) for r in conn.execute(select(AuditEvent.__table__))]
        drafts = [dict(r._mapping) for r in conn.execute(select(Draft.__table__))]
    assert {e["action"] for e in events} >= {"draft.create", "policy.update", "user.create"}
    assert len(drafts) == 4 and all(d["text"] is None for d in drafts)
    assert_no_personal_data(json.dumps(events, default=str), "audit_events")
    assert_no_personal_data(json.dumps(drafts, default=str), "drafts")
    assert_no_personal_data(repr(rt.caches), "process caches")
    # The counts by type are what the audit trail keeps instead.
    draft_events = [e for e in events if e["action"] == "draft.create"]
    assert all(e["pii_counts"]["CARD"] == 1 for e in draft_events)


def test_block_policy_refuses_with_422_naming_the_types_only(pii_app, openai_server, caplog):
    caplog.set_level(logging.DEBUG)
    client = pii_app.test_client()
    policy = {**POLICY, "pii": {**POLICY["pii"], "actions": {"CARD": "block", "SSN": "block"}}}
    assert client.put("/api/v1/admin/policy", json={"policy": policy},
                      headers=USER).status_code == 200
    for accept in ("application/json", "text/event-stream"):
        response = client.post("/api/v1/drafts", json=_request(),
                               headers={**USER, "Accept": accept})
        assert response.status_code == 422
        error = response.get_json()["error"]
        assert error["code"] == "pii_blocked" and error["types"] == ["CARD", "SSN"]
        assert "CARD, SSN" in error["message"]
        assert_no_personal_data(response.get_data(as_text=True), "the 422 answer")
    assert openai_server.requests == []
    rt = pii_app.extensions["replywise"]
    with rt.db.session(T) as session:
        assert session.scalars(select(Draft)).all() == []
    for record in caplog.records:
        assert_no_personal_data(_record_text(record), f"log record {record.name}")


def test_allow_policy_sends_that_type_and_still_redacts_the_others(pii_app, openai_server):
    client = pii_app.test_client()
    policy = {"pii": {**POLICY["pii"], "actions": {"EMAIL": "allow"}}}
    assert client.put("/api/v1/admin/policy", json={"policy": policy},
                      headers=USER).status_code == 200
    draft = client.post("/api/v1/drafts", json=_request(), headers=USER).get_json()
    sent = json.dumps([r.body for r in openai_server.requests])
    assert "ottoline.v@acme-example.com" in sent and "seraphina@partner-example.org" in sent
    assert "4111 1111 1111 1111" not in sent and "Ottoline Vantablack" not in sent
    assert "EMAIL" not in draft["pii"] and draft["pii"]["CARD"] == 1


def test_redact_command_prints_redacted_text_and_spans_for_the_tenants_policy(client, run_cli):
    assert client.put("/api/v1/admin/policy", json={"policy": POLICY},
                      headers=USER).status_code == 200
    text = ("Ottoline Vantablack (ottoline.v@acme-example.com, 4111 1111 1111 1111) asked "
            "about CUST-004211 and Falcon.")
    result = run_cli("redact", "--tenant", T, "--name", "Ottoline Vantablack", input=text)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["redacted"] == ("[PERSON_1] ([EMAIL_1], [CARD_1]) asked about [CUSTOMER_ID_1] "
                                "and [PROJECT_1].")
    assert data["blocked"] == []
    assert data["counts"] == {"PERSON": 1, "EMAIL": 1, "CARD": 1, "CUSTOMER_ID": 1,
                              "PROJECT": 1}
    assert {s["action"] for s in data["spans"]} == {"redact"}
    assert [(s["type"], s["placeholder"], s["text"]) for s in data["spans"]] == [
        ("PERSON", "[PERSON_1]", "Ottoline Vantablack"),
        ("EMAIL", "[EMAIL_1]", "ottoline.v@acme-example.com"),
        ("CARD", "[CARD_1]", "4111 1111 1111 1111"),
        ("CUSTOMER_ID", "[CUSTOMER_ID_1]", "CUST-004211"), ("PROJECT", "[PROJECT_1]", "Falcon")]
    assert all(text[s["start"]:s["end"]] == s["text"] for s in data["spans"])


def test_redact_command_shows_what_a_block_policy_would_refuse(client, run_cli):
    policy = {"pii": {"actions": {"CARD": "block", "EMAIL": "allow"}}}
    assert client.put("/api/v1/admin/policy", json={"policy": policy},
                      headers=USER).status_code == 200
    result = run_cli("redact", "--tenant", T, input="Card 4111 1111 1111 1111, a@b.example")
    data = json.loads(result.stdout)
    assert data["redacted"] is None and data["blocked"] == ["CARD"]
    assert [(s["type"], s["action"], s["placeholder"]) for s in data["spans"]] == [
        ("CARD", "block", None), ("EMAIL", "allow", None)]


def test_redact_command_for_an_unknown_tenant_uses_defaults_and_creates_nothing(run_cli, rt):
    from backend.storage.models import Tenant
    result = run_cli("redact", "--tenant", "nobody-yet", input="Mail me: a.person@example.com")
    assert json.loads(result.stdout)["redacted"] == "Mail me: [EMAIL_1]"
    with rt.db.session(all_tenants=True) as session:
        assert session.get(Tenant, "nobody-yet") is None


def test_the_stored_policy_is_exactly_what_the_admin_wrote(client, make_app):
    # Defaults (here the phone region) are applied when reading, not written into the document,
    # so changing REPLYWISE_PII_REGION later still reaches tenants that never chose one.
    assert client.put("/api/v1/admin/policy", json={"policy": POLICY},
                      headers=USER).get_json() == {"policy": POLICY}
    assert client.get("/api/v1/admin/policy", headers=USER).get_json() == {"policy": POLICY}
    british = make_app(pii_default_region="GB").test_client()
    draft = british.post("/api/v1/drafts", headers=USER, json={"message": {
        "from": "a@b.example", "body_text": "Ring me on 020 7946 0958 please."}}).get_json()
    assert draft["pii"]["PHONE"] == 1
