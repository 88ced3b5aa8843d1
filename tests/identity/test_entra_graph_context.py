"""Reading the conversation from Graph on the user's behalf: the earlier messages reach the prompt
(redacted), consent problems reach the pane as 401s it can act on, other failures cost only the
extra context."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sqlalchemy import select

from backend.drafting.model import EmailMessage, MailThread
from backend.governance.pii import PolicyError
from backend.governance.policy import TenantPolicy
from backend.services.accounts import ensure_tenant
from backend.services.drafting import DraftRequest
from backend.services.thread_context import earlier_messages, graph_scope
from backend.storage.models import AuditEvent
from tests.identity.entra_support import (
    CLAIMS, GRAPH, TENANT, claims_challenge_response,
    consent_required_response, entra_settings, mint)
from tests.web.drafting_support import fake_provider

CONVERSATION = "AAQkAGI2TG93AAA='quoted'="
ANSWERED_ID = "<CAF-3@mail.contoso-example.com>"

OUTLOOK_MESSAGE = {
    "subject": "Re: Pallet delivery", "from": "Dana Fox <dana.fox@contoso-example.com>",
    "to": ["Sam Lee <sam@corp-example.com>"], "message_id": ANSWERED_ID,
    "conversation_id": CONVERSATION,
    "body_text": "Hi Sam,\n\nCan you confirm Thursday works for the delivery?\n\nDana\n",
}


def graph_message(n: int, body: str, *, sender=("Dana Fox", "dana.fox@contoso-example.com"),
                  html: bool = False, draft: bool = False, message_id: str | None = None):
    return {
        "subject": "Pallet delivery", "isDraft": draft,
        "from": {"emailAddress": {"name": sender[0], "address": sender[1]}},
        "toRecipients": [{"emailAddress": {"name": "Sam Lee", "address": "sam@corp-example.com"}}],
        "ccRecipients": [], "receivedDateTime": f"2026-03-0{n}T09:00:00Z",
        "internetMessageId": message_id or f"<CAF-{n}@mail.contoso-example.com>",
        "body": {"contentType": "html" if html else "text", "content": body},
    }


CONVERSATION_ON_GRAPH = [  # newest first, as asked for
    graph_message(4, "", draft=True, message_id="<draft@corp-example.com>"),
    graph_message(3, OUTLOOK_MESSAGE["body_text"], message_id=ANSWERED_ID),
    graph_message(2, "<p>Dana, the pallet count is <b>42</b>. Call me on +1 415 555 0134 or "
                     "write to bob.builder@corp-example.com.</p>",
                  sender=("Bob Builder", "bob.builder@corp-example.com"), html=True),
    graph_message(1, "Hello, we need 42 pallets of blue tiles shipped to Leeds."),
]


@pytest.fixture
def graph(mock):
    """Graph's message list; `graph.status` and `graph.items` script it, `graph.queries` records."""
    class Graph:
        status = 200
        items = CONVERSATION_ON_GRAPH
        queries: list[dict[str, list[str]]] = []
        tokens: list[str] = []

    def answer(request):
        Graph.queries.append(parse_qs(urlsplit(request.url).query))
        Graph.tokens.append(request.headers["Authorization"])
        if Graph.status != 200:
            body = {"error": {"code": "ErrorInternalServerError", "message": "boom"}}
            return Graph.status, {"Content-Type": "application/json"}, json.dumps(body)
        return 200, {"Content-Type": "application/json"}, json.dumps({"value": Graph.items})

    Graph.queries, Graph.tokens = [], []
    mock.add_callback(responses.GET, f"{GRAPH}/me/messages", callback=answer)
    return Graph


@pytest.fixture
def app(make_app, openai_server):
    return make_app(**entra_settings(providers=(fake_provider(openai_server),)))


def set_policy(rt, **policy) -> None:
    with rt.db.session(TENANT) as session:
        ensure_tenant(session, TENANT).policy = policy
    rt.caches.get("policies", {}).pop(TENANT, None)


def draft(client, token: str, *, surface: str = "outlook", message=None):
    return client.post("/api/v1/drafts", headers={"Authorization": f"Bearer {token}"},
                       json={"message": message or OUTLOOK_MESSAGE, "surface": surface})


def prompt(openai_server) -> str:
    (recorded,) = openai_server.requests
    return "\n".join(m["content"] for m in recorded.body["messages"])


def test_the_prompt_includes_the_earlier_messages_from_graph_redacted(
        client, rt, entra, graph, openai_server):
    set_policy(rt, graph_context=True)
    token = mint()
    response = draft(client, token)
    assert response.status_code == 200, response.get_data(as_text=True)
    text = prompt(openai_server)
    assert "42 pallets of blue tiles" in text and "the pallet count is 42" in text
    assert "earlier message 1 of 2" in text and "earlier message 2 of 2" in text
    for secret in ("415 555 0134", "bob.builder@", "Bob Builder"):
        assert secret not in text
    assert "<b>" not in text  # HTML became text
    # On behalf of the caller, with the caller's own token, for Mail.Read only.
    (exchange,) = entra.token_requests()
    assert exchange["requested_token_use"] == ["on_behalf_of"]
    assert exchange["assertion"] == [token]
    assert "https://graph.microsoft.com/Mail.Read" in exchange["scope"][0].split()
    (query,) = graph.queries
    assert query["$filter"] == ["receivedDateTime ge 1900-01-01T00:00:00Z and conversationId eq "
                                "'AAQkAGI2TG93AAA=''quoted''='"]
    assert query["$top"] == ["25"] and query["$orderby"] == ["receivedDateTime desc"]
    assert graph.tokens[0].startswith("Bearer graph-token-")


def test_the_graph_token_is_reused_from_msal_s_cache(client, rt, entra, graph, openai_server):
    set_policy(rt, graph_context=True)
    assert draft(client, mint()).status_code == 200
    assert draft(client, mint()).status_code == 200
    assert len(entra.token_requests()) == 1 and len(graph.queries) == 2


def test_missing_consent_is_a_401_the_pane_acts_on(client, rt, entra, graph, openai_server):
    set_policy(rt, graph_context=True)
    entra.token_responses.append(consent_required_response())
    response = draft(client, mint())
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "consent_required"
    assert "AADSTS" not in response.get_data(as_text=True)
    assert graph.queries == [] and openai_server.requests == []


def test_a_claims_challenge_goes_back_to_the_pane_with_its_claims(
        client, rt, entra, graph, openai_server):
    set_policy(rt, graph_context=True)
    entra.token_responses.append(claims_challenge_response())
    response = draft(client, mint())
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "claims_challenge" and error["claims"] == CLAIMS
    assert 'error="insufficient_claims"' in response.headers["WWW-Authenticate"]
    assert openai_server.requests == []


@pytest.mark.parametrize("status", [500, 503, 403])
def test_a_graph_failure_still_produces_a_draft_without_the_context(
        client, rt, entra, graph, openai_server, status, caplog):
    set_policy(rt, graph_context=True)
    graph.status = status
    response = draft(client, mint())
    assert response.status_code == 200
    assert response.get_json()["text"]
    assert "blue tiles" not in prompt(openai_server)
    (record,) = [r for r in caplog.records if "graph context skipped" in r.getMessage()]
    assert record.error_type == "GraphError" and record.status == status


def test_an_unexpected_token_endpoint_error_still_produces_a_draft(
        client, rt, entra, graph, openai_server):
    set_policy(rt, graph_context=True)
    entra.token_responses.append((400, {"error": "invalid_client",
                                        "error_description": "AADSTS7000215: bad secret"}))
    assert draft(client, mint()).status_code == 200
    assert graph.queries == []


@pytest.mark.parametrize("policy, surface, conversation", [
    ({}, "outlook", CONVERSATION),                       # the tenant has not turned it on
    ({"graph_context": True}, "api", CONVERSATION),      # not from Outlook
    ({"graph_context": True}, "outlook", None),          # no conversation to read
])
def test_graph_is_not_called_unless_everything_asks_for_it(
        client, rt, mock, entra, graph, openai_server, policy, surface, conversation):
    set_policy(rt, **policy)
    message = {k: v for k, v in OUTLOOK_MESSAGE.items() if k != "conversation_id"}
    if conversation:
        message["conversation_id"] = conversation
    assert draft(client, mint(), surface=surface, message=message).status_code == 200
    assert graph.queries == [] and entra.token_requests() == []


def test_a_local_caller_never_triggers_graph(make_app, mock, openai_server):
    app = make_app(providers=(fake_provider(openai_server),))
    rt = app.extensions["replywise"]
    with rt.db.session("local") as session:
        ensure_tenant(session, "local").policy = {"graph_context": True}
    response = app.test_client().post("/api/v1/drafts",
                                      json={"message": OUTLOOK_MESSAGE, "surface": "outlook"})
    assert response.status_code == 200 and len(mock.calls) == 0


def test_the_draft_audit_trail_never_holds_the_token(client, rt, entra, graph, openai_server):
    set_policy(rt, graph_context=True)
    token = mint()
    assert draft(client, token).status_code == 200
    with rt.db.session(TENANT) as session:
        events = session.scalars(select(AuditEvent)).all()
    assert events and all(token.split(".")[1] not in repr(e.details) for e in events)


def test_the_draft_request_never_prints_the_token():
    request = DraftRequest(thread=MailThread(EmailMessage()), user_assertion="secret.token.x")
    assert "secret.token" not in repr(request)


def test_earlier_messages_stop_at_the_answered_message_and_skip_drafts():
    items = list(reversed(CONVERSATION_ON_GRAPH))
    answered = EmailMessage(message_id=ANSWERED_ID)
    found = earlier_messages(items, answered)
    assert [m.message_id for m in found] == ["<CAF-1@mail.contoso-example.com>",
                                             "<CAF-2@mail.contoso-example.com>"]
    assert found[1].sender.email == "bob.builder@corp-example.com"
    assert "pallet count is 42" in found[1].body_text and "<b>" not in found[1].body_text


def test_without_a_message_id_later_messages_are_left_out():
    from datetime import UTC, datetime
    items = list(reversed(CONVERSATION_ON_GRAPH))
    answered = EmailMessage(date=datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    assert [m.message_id for m in earlier_messages(items, answered)] == [
        "<CAF-1@mail.contoso-example.com>", "<CAF-2@mail.contoso-example.com>"]


def test_a_malformed_graph_message_is_skipped_not_fatal():
    items = [{"from": {"emailAddress": {"name": 5}}}, graph_message(1, "Fine.")]
    assert [m.body_text for m in earlier_messages(items, EmailMessage())] == ["Fine."]


@pytest.mark.parametrize("value", ["yes", 1, None, []])
def test_graph_context_policy_must_be_a_boolean(value):
    if value is None:
        assert TenantPolicy.from_dict({}).graph_context is False
        return
    with pytest.raises(PolicyError, match="graph_context"):
        TenantPolicy.from_dict({"graph_context": value})
    assert TenantPolicy.from_dict({"graph_context": True}).graph_context is True




@pytest.mark.parametrize("base, scope", [
    ("https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/Mail.Read"),
    ("https://graph.microsoft.us/v1.0", "https://graph.microsoft.us/Mail.Read"),
    ("https://microsoftgraph.chinacloudapi.cn/v1.0",
     "https://microsoftgraph.chinacloudapi.cn/Mail.Read"),
])
def test_the_delegated_scope_follows_the_configured_graph(base, scope):
    assert graph_scope(base) == scope
