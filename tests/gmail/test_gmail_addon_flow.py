"""The Gmail add-on end to end: event objects in, cards and Gmail API calls out."""
from __future__ import annotations

import base64
import email
import json
import re
import time
from email import policy

import pytest
from sqlalchemy import select

from backend.governance.identity import Principal
from backend.providers.llm.base import ProviderConfig
from backend.services import tenants
from backend.storage.models import AuditEvent, Draft
from tests.fakes.openai_server import Behaviour
from tests.gmail.gmail_support import (BASE_URL, MESSAGE_DECIMAL, MESSAGE_HEX, PARENT_ID,
                                       PARENT_REFERENCES, SCOPES, TENANT, THREAD_HEX,
                                       event, full_message, gmail_calls, gmail_url,
                                       message_resource, parent_message)

READ_SCOPE = SCOPES[1]
COMPOSE_SCOPE = SCOPES[2]
FORM = {"tone": "formal", "length": "short", "language": "auto",
        "instructions": "Say the invoice is on its way"}


@pytest.fixture
def gmail_message(google):
    """The Gmail API serving the open message (and its thread, and draft creation)."""
    def serve(raw: bytes | None = None, status: int = 200, body: dict | None = None):
        google.upsert("GET", gmail_url(f"/messages/{MESSAGE_HEX}"), status=status,
                      json=body if body is not None else message_resource(raw or parent_message()))
    serve()
    google.post(gmail_url("/drafts"), json={"id": "r-5566778899", "message": {
        "id": "18d4c0ffee0a9999", "threadId": THREAD_HEX, "labelIds": ["DRAFT"]}})
    return serve


def _card(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    navigation = response.get_json()["renderActions"]["action"]["navigations"][0]
    return next(iter(navigation.items()))


def _widgets(card, kind):
    return [w[kind] for s in card["sections"] for w in s["widgets"] if kind in w]


def _buttons(card):
    buttons = {}
    for button_list in _widgets(card, "buttonList"):
        for button in button_list["buttons"]:
            action = button["onClick"]["action"]
            buttons[button["text"]] = (action["function"],
                                       {p["key"]: p["value"] for p in action["parameters"]})
    return buttons


def _draft(client, user_token, *, form=FORM, parameters=None):
    params = {"message_id": MESSAGE_HEX, "thread_id": THREAD_HEX, "mode": "read",
              **(parameters or {})}
    return client.post("/gmail/draft", event(user_token=user_token(),
                                             message_id=f"msg-f:{MESSAGE_DECIMAL}",
                                             form=form, parameters=params))


# --- homepage, opened message, compose ----------------------------------------------------------

def test_homepage_says_what_replywise_does_and_counts_the_users_drafts(addon, gmail_message,
                                                                       user_token):
    client = addon()
    card = _card(client.post("/gmail/homepage", event(user_token=user_token())))[1]
    text = json.dumps(card)
    assert "drafts a reply" in text and "No budget set." in text
    assert "Drafts today: <b>0</b>" in text
    _draft(client, user_token)
    text = json.dumps(_card(client.post("/gmail/homepage", event(user_token=user_token())))[1])
    assert "Drafts today: <b>1</b>" in text and "Drafts this month: <b>1</b>" in text


def test_opened_message_shows_sender_subject_and_the_drafting_controls(addon, google,
                                                                       gmail_message, user_token):
    client = addon()
    kind, card = _card(client.post("/gmail/message", event(
        user_token=user_token(), message_id=f"msg-f:{MESSAGE_DECIMAL}",
        thread_id="thread-f:1789012345678900000", access_token="per-message-token")))
    assert kind == "pushCard"
    text = json.dumps(card)
    assert "Jane Doe &lt;jane.doe@acme-supplier.example&gt;" in text
    assert "Invoice 4411 for March" in text
    dropdowns = {w["name"]: w for w in _widgets(card, "selectionInput")}
    assert set(dropdowns) == {"tone", "length", "language"}
    assert all(w["type"] == "DROPDOWN" for w in dropdowns.values())
    assert [w["type"] for w in _widgets(card, "textInput")] == ["MULTIPLE_LINE"]
    function, params = _buttons(card)["Draft reply"]
    assert function == f"{BASE_URL}/gmail/draft"
    assert params["message_id"] == MESSAGE_HEX and params["thread_id"] == THREAD_HEX
    [call] = gmail_calls(google)
    assert call.request.url == gmail_url(f"/messages/{MESSAGE_HEX}?format=raw")
    assert call.request.headers["Authorization"] == "Bearer ya29.user-oauth-token"
    assert call.request.headers["X-Goog-Gmail-Access-Token"] == "per-message-token"


def test_a_hex_message_id_is_used_as_it_is(addon, google, gmail_message, user_token):
    response = addon().post("/gmail/message", event(user_token=user_token(),
                                                    message_id=MESSAGE_HEX))
    assert response.status_code == 200
    assert gmail_calls(google)[0].request.url.endswith(f"/messages/{MESSAGE_HEX}?format=raw")


def test_compose_window_offers_the_controls_draft_and_insert(addon, google, user_token):
    kind, card = _card(addon().post("/gmail/compose", event(user_token=user_token(),
                                                            to=["kim@partner.example"])))
    assert {w["name"] for w in _widgets(card, "selectionInput")} == {"tone", "length",
                                                                     "language"}
    buttons = _buttons(card)
    assert buttons["Insert"][0] == f"{BASE_URL}/gmail/insert"
    assert buttons["Draft"][1]["mode"] == "compose"
    assert gmail_calls(google) == []


# --- drafting, refining --------------------------------------------------------------------------

def test_draft_button_drafts_with_the_form_inputs_and_records_a_gmail_draft(addon, gmail_message,
                                                                            user_token):
    client = addon()
    kind, card = _card(_draft(client, user_token))
    assert kind == "pushCard"
    paragraphs = " ".join(w["text"] for w in _widgets(card, "textParagraph"))
    assert "Dear Jane" in paragraphs
    buttons = _buttons(card)
    assert set(buttons) == {"Open as reply", "Regenerate", "Shorter", "Longer", "More formal"}
    function, params = buttons["Shorter"]
    assert function == f"{BASE_URL}/gmail/draft"
    assert params["refine"] == "shorter" and params["draft"].startswith("Dear Jane")
    assert params["tone"] == "formal" and params["instructions"] == FORM["instructions"]
    assert buttons["Open as reply"][0] == f"{BASE_URL}/gmail/open-reply"
    rt = client.app.extensions["replywise"]
    with rt.db.session(TENANT) as session:
        draft = session.scalars(select(Draft)).one()
        assert (draft.surface, draft.tone, draft.length) == ("gmail", "formal", "short")
        audited = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "draft.create")).one()
        assert audited.details["surface"] == "gmail"


def test_refining_sends_the_previous_draft_and_updates_the_card(addon, gmail_message,
                                                               user_token):
    client = addon()
    previous = _buttons(_card(_draft(client, user_token))[1])["Shorter"][1]
    kind, card = _card(client.post("/gmail/draft", event(
        user_token=user_token(), message_id=f"msg-f:{MESSAGE_DECIMAL}", parameters=previous)))
    assert kind == "updateCard"
    rt = client.app.extensions["replywise"]
    with rt.db.session(TENANT) as session:
        refined = session.scalars(select(Draft).where(Draft.refine.is_not(None))).one()
        assert refined.refine == "shorter" and refined.tone == "formal"


# --- open as reply -------------------------------------------------------------------------------

def _created_raw(google) -> email.message.EmailMessage:
    [create] = [c for c in gmail_calls(google) if c.request.method == "POST"]
    body = json.loads(create.request.body)
    assert body["message"]["threadId"] == THREAD_HEX
    raw = base64.urlsafe_b64decode(body["message"]["raw"] + "==")
    return email.message_from_bytes(raw, policy=policy.default)


def test_open_as_reply_creates_the_reply_draft_in_the_thread_and_opens_it(addon, google,
                                                                          gmail_message,
                                                                          user_token):
    client = addon()
    function, params = _buttons(_card(_draft(client, user_token))[1])["Open as reply"]
    response = client.post("/gmail/open-reply", event(
        user_token=user_token(), message_id=f"msg-f:{MESSAGE_DECIMAL}", parameters=params))
    markup = response.get_json()["renderActions"]["hostAppAction"]["gmailAction"]
    assert markup == {"openCreatedDraftActionMarkup": {"draftId": "r-5566778899",
                                                       "draftThreadId": THREAD_HEX}}
    reply = _created_raw(google)
    assert reply["To"] == "Jane Doe <jane.doe@acme-supplier.example>"
    assert reply["Subject"] == "Re: Invoice 4411 for March"
    assert reply["In-Reply-To"] == PARENT_ID
    assert reply["References"] == f"{PARENT_REFERENCES} {PARENT_ID}"
    assert reply.get_content_type() == "text/html"
    assert reply.get_content_charset() == "utf-8"
    assert "Dear Jane" in reply.get_content() and "<p>" in reply.get_content()
    rt = client.app.extensions["replywise"]
    with rt.db.session(TENANT) as session:
        assert session.scalars(select(AuditEvent).where(
            AuditEvent.action == "gmail.draft.open")).one().target_id == THREAD_HEX


def test_reply_goes_to_reply_to_and_keeps_a_single_re(addon, google, gmail_message, user_token):
    gmail_message(parent_message(reply_to="Billing <billing@acme-supplier.example>",
                                 subject="RE: Invoice 4411", references=None))
    client = addon()
    client.post("/gmail/open-reply", event(
        user_token=user_token(), message_id=MESSAGE_HEX,
        parameters={"draft": "Dear Jane,\n\nDone.\n\nKind regards,\nSam"}))
    reply = _created_raw(google)
    assert reply["To"] == "Billing <billing@acme-supplier.example>"
    assert reply["Subject"] == "RE: Invoice 4411"
    assert reply["References"] == PARENT_ID


# --- insert while composing ----------------------------------------------------------------------

def test_insert_puts_the_shown_draft_at_the_cursor_as_html(addon, google, user_token):
    response = addon().post("/gmail/insert", event(
        user_token=user_token(), parameters={"mode": "compose",
                                             "draft": "Hi Kim,\n\n<script>x</script> See you."}))
    markup = response.get_json()["renderActions"]["hostAppAction"]["gmailAction"]
    body = markup["updateDraftActionMarkup"]["updateBody"]
    assert body["type"] == "IN_PLACE_INSERT"
    [content] = body["insertContents"]
    assert content["contentType"] == "MUTABLE_HTML"
    assert "<p>Hi Kim,</p>" in content["content"] and "<script>" not in content["content"]
    assert gmail_calls(google) == []


def test_insert_without_a_shown_draft_drafts_from_the_instructions_first(addon, google,
                                                                         user_token):
    client = addon()
    response = client.post("/gmail/insert", event(
        user_token=user_token(), to=["kim@partner.example"], parameters={"mode": "compose"},
        form={**FORM, "instructions": "Invite Kim to the launch on Friday"}))
    content = response.get_json()["renderActions"]["hostAppAction"]["gmailAction"][
        "updateDraftActionMarkup"]["updateBody"]["insertContents"][0]["content"]
    assert content.startswith("<p>")
    rt = client.app.extensions["replywise"]
    with rt.db.session(TENANT) as session:
        assert session.scalars(select(Draft.surface)).one() == "gmail"


def test_composing_without_a_message_or_instructions_explains_what_to_do(addon, user_token):
    response = addon().post("/gmail/draft", event(user_token=user_token(), form={},
                                                  parameters={"mode": "compose"}))
    assert "instructions box" in json.dumps(_card(response)[1])


# --- consent -------------------------------------------------------------------------------------

def test_missing_read_consent_asks_google_for_that_scope_before_calling_gmail(
        addon, google, gmail_message, user_token):
    response = addon().post("/gmail/message", event(
        user_token=user_token(), message_id=MESSAGE_HEX, scopes=(SCOPES[0], SCOPES[3])))
    assert response.get_json() == {"requesting_google_scopes": {"scopes": [READ_SCOPE]}}
    assert gmail_calls(google) == []


def test_gmail_refusing_the_users_token_asks_for_consent(addon, gmail_message, user_token):
    gmail_message(status=403, body={"error": {"code": 403, "message": "Insufficient Permission",
                                              "errors": [{"reason": "insufficientPermissions"}]}})
    response = addon().post("/gmail/message", event(user_token=user_token(),
                                                    message_id=MESSAGE_HEX, scopes=None))
    assert response.get_json() == {"requesting_google_scopes": {"scopes": [READ_SCOPE]}}


def test_missing_compose_consent_asks_for_it_before_creating_a_draft(addon, google,
                                                                     gmail_message, user_token):
    response = addon().post("/gmail/open-reply", event(
        user_token=user_token(), message_id=MESSAGE_HEX, scopes=SCOPES[:2] + SCOPES[3:],
        parameters={"draft": "Dear Jane,\n\nDone."}))
    assert response.get_json() == {"requesting_google_scopes": {"scopes": [COMPOSE_SCOPE]}}
    assert gmail_calls(google) == []


def test_without_the_email_scope_there_is_no_user_token_so_it_is_requested(addon, google):
    response = addon().post("/gmail/homepage", event(user_token=None))
    assert response.get_json() == {"requesting_google_scopes": {"scopes": [SCOPES[0],
                                                                           SCOPES[3]]}}


# --- time, failures ------------------------------------------------------------------------------

def test_a_slow_provider_gives_the_offline_draft_with_its_notice_within_the_deadline(
        addon, gmail_message, openai_server, user_token):
    openai_server.set_default(Behaviour.slow(8.0))
    client = addon(providers=(ProviderConfig(name="fake", kind="compatible",
                                             model="gpt-4o-mini",
                                             base_url=openai_server.base_url, timeout_s=5),),
                   gmail_deadline_s=1.0)
    started = time.monotonic()
    card = _card(_draft(client, user_token))[1]
    elapsed = time.monotonic() - started
    paragraphs = [w["text"] for w in _widgets(card, "textParagraph")]
    assert paragraphs[0].startswith("<b>Note:</b>") and "offline draft" in paragraphs[0]
    assert "Dear Jane" in paragraphs[1]
    assert elapsed < 5.0  # the provider would have taken 8 s; the deadline is 1 s
    rt = client.app.extensions["replywise"]
    with rt.db.session(TENANT) as session:
        draft = session.scalars(select(Draft)).one()
        assert draft.offline_fallback and draft.surface == "gmail"


def test_a_pipeline_refusal_is_a_card_in_plain_words_not_an_error(addon, gmail_message,
                                                                  user_token):
    client = addon()
    rt = client.app.extensions["replywise"]
    admin = Principal(idp="cli", tenant_id=TENANT, subject="operator",
                      roles=frozenset({"tenant_admin"}))
    tenants.write_policy(rt, admin, {"pii": {"word_lists": {"SECRET": ["PDF"]},
                                             "actions": {"SECRET": "block"}}})
    response = _draft(client, user_token)
    text = json.dumps(_card(response)[1])
    assert "personal data your organisation does not allow" in text


def test_an_overloaded_worker_answers_with_a_card_before_calling_gmail(addon, google,
                                                                      gmail_message, user_token):
    client = addon(shed_lag_ms=50.0)
    monitor = client.app.extensions["replywise"].lag_monitor
    while monitor.shed_share < 1:
        monitor.record(0.2)
    text = json.dumps(_card(_draft(client, user_token))[1])
    assert "very busy right now" in text
    assert gmail_calls(google) == []  # the open message was not even fetched
    while monitor.shedding:
        monitor.record(0.0)
    assert "Dear Jane" in json.dumps(_card(_draft(client, user_token))[1])


def test_gmail_failing_is_a_card_not_an_error(addon, gmail_message, user_token):
    gmail_message(status=500, body={"error": {"code": 500, "message": "backend error"}})
    response = addon().post("/gmail/message", event(user_token=user_token(),
                                                    message_id=MESSAGE_HEX))
    assert "Gmail did not answer as expected" in json.dumps(_card(response)[1])


def test_an_unexpected_failure_is_a_card_not_a_500(addon, monkeypatch, user_token):
    from backend.services import gmail_addon

    def broken(*args, **kwargs):
        raise RuntimeError("bug")
    monkeypatch.setattr(gmail_addon, "usage_summary", broken)
    response = addon().post("/gmail/homepage", event(user_token=user_token()))
    assert "Something went wrong on our side" in json.dumps(_card(response)[1])


# --- thread context ------------------------------------------------------------------------------

def test_thread_context_reads_the_earlier_messages_when_the_tenant_allows_it(
        addon, google, gmail_message, openai_server, user_token):
    client = addon(providers=(ProviderConfig(name="fake", kind="compatible", model="gpt-4o-mini",
                                             base_url=openai_server.base_url, timeout_s=5),))
    rt = client.app.extensions["replywise"]
    admin = Principal(idp="cli", tenant_id=TENANT, subject="operator",
                      roles=frozenset({"tenant_admin"}))
    tenants.write_policy(rt, admin, {"graph_context": True})
    google.get(gmail_url(f"/threads/{THREAD_HEX}"), json={"id": THREAD_HEX, "messages": [
        full_message("18d4c0ffee000001", "Sam Lee <sam@acme.example>",
                     "We shipped order 7781 on Monday by pallet freight."),
        full_message(MESSAGE_HEX, "Jane Doe <jane.doe@acme-supplier.example>", "latest"),
        full_message("18d4c0ffee000003", "Sam Lee <sam@acme.example>", "unsent reply",
                     labels=("DRAFT",))]})
    openai_server.script(Behaviour.ok("Dear Jane,\n\nI will resend it.\n\nKind regards,\nSam"))
    _card(_draft(client, user_token))
    thread_call = [c for c in gmail_calls(google) if "/threads/" in c.request.url]
    assert thread_call[0].request.url.endswith(f"/threads/{THREAD_HEX}?format=full")
    prompt = json.dumps(openai_server.requests[-1].body)
    assert "pallet freight" in prompt and "unsent reply" not in prompt


def test_without_thread_context_only_the_open_message_is_read(addon, google, gmail_message,
                                                             user_token):
    _card(_draft(addon(), user_token))
    assert all("/threads/" not in c.request.url for c in gmail_calls(google))


def test_homepage_shows_the_users_remaining_monthly_token_budget(addon, gmail_message,
                                                                 user_token):
    from sqlalchemy import select

    from datetime import datetime, timezone

    from backend.governance.identity import Principal
    from backend.governance.limits import plan
    from backend.services import limits
    from backend.storage.models import User

    client = addon()
    client.post("/gmail/homepage", event(user_token=user_token()))  # creates the user
    rt = client.app.extensions["replywise"]
    with rt.db.session(all_tenants=True) as session:
        user = session.scalars(select(User).where(User.idp == "google")).one()
    admin = Principal(idp="cli", tenant_id=user.tenant_id, subject="operator").with_roles(
        frozenset({"tenant_admin"}))
    limits.set_limit(rt, admin, "user_monthly_tokens", 50_000, user_id=user.id)
    text = json.dumps(_card(client.post("/gmail/homepage", event(user_token=user_token())))[1])
    assert "50,000 of your 50,000 tokens left this month." in text
    # Spending is counted by the limits service (tests/limits); here the card must show what the
    # store says is left, so spend some of the budget directly and read it back.
    (counter,) = [c for c in plan(limits.limits_for(rt, user.tenant_id),
                                  tenant_id=user.tenant_id, user_id=user.id, team=None,
                                  now=datetime.now(timezone.utc), tokens=1234)
                  if c.limit == "user_monthly_tokens"]
    assert limits.store(rt).admit(user.tenant_id, [counter]) is None
    text = json.dumps(_card(client.post("/gmail/homepage", event(user_token=user_token())))[1])
    left = int(re.search(r"([\d,]+) of your 50,000 tokens left", text).group(1).replace(",", ""))
    assert left == 50_000 - 1234
