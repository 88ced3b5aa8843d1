"""Failures in plain words with a way forward, and the pane side of sign-in."""
from __future__ import annotations

import pytest

from tests.addin.pane_support import (draft_payload, fulfil_error, fulfil_sse, message, ready,
                                      use_identity_provider, wait_api, wait_message, wait_state)

pytestmark = pytest.mark.browser

DRAFTS = "**/api/v1/drafts"


@pytest.fixture
def server(start_server):
    return start_server()


def _open(pane_factory, server, office=None):
    pane = pane_factory(server).open(office or {"mode": "read"})
    ready(pane)
    return pane


def _wait_message(pane, part: str) -> str:
    pane.page.wait_for_function(
        "part => !document.getElementById('message-bar').hidden && "
        "document.getElementById('message-text').textContent.includes(part)", arg=part)
    return message(pane)


def test_rate_limit_says_when_to_retry_and_counts_down(pane_factory, server, artifacts):
    pane = pane_factory(server)
    pane.page.route(DRAFTS, lambda route: fulfil_error(
        route, 429, "rate_limited", "Too many drafts.", headers={"Retry-After": "1"},
        limit="user"))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    text = _wait_message(pane, "Try again in 1 s")
    assert "drafting limit" in text
    assert pane.page.is_disabled("#draft-button")
    assert pane.page.text_content("#draft-button-label") == "Try again in 1 s"
    pane.page.screenshot(path=str(artifacts / "taskpane-rate-limited.png"))
    pane.page.wait_for_function("() => !document.getElementById('draft-button').disabled",
                                timeout=3000)
    assert pane.page.text_content("#draft-button-label") == "Draft reply"
    assert "draft again now" in wait_message(pane, "draft again now")


def test_an_overloaded_service_says_when_to_retry_and_counts_down(pane_factory, server):
    pane = pane_factory(server)
    pane.page.route(DRAFTS, lambda route: fulfil_error(
        route, 503, "overloaded", "Busy.", headers={"Retry-After": "2"}))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    assert "very busy" in _wait_message(pane, "Try again in 2 s")
    assert pane.page.is_disabled("#draft-button")
    _wait_message(pane, "Try again in 1 s")
    pane.page.wait_for_function("() => !document.getElementById('draft-button').disabled",
                                timeout=4000)
    assert "draft again now" in wait_message(pane, "draft again now")


def test_spent_budget_says_who_to_ask(pane_factory, server):
    pane = pane_factory(server)
    pane.page.route(DRAFTS, lambda route: fulfil_error(
        route, 429, "budget_exceeded", "Budget spent.", headers={"Retry-After": "3600"},
        limit="tenant_budget"))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    text = _wait_message(pane, "budget")
    assert "Replywise admin (tenant admin)" in text
    assert pane.page.is_enabled("#draft-button")


def test_unreachable_backend_is_named_with_a_way_forward(pane_factory, server):
    pane = pane_factory(server)
    pane.page.route(DRAFTS, lambda route: route.abort("connectionrefused"))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    text = _wait_message(pane, "Can't reach the Replywise service")
    assert server.url in text
    assert pane.page.text_content("#message-action") == "Try again"
    assert pane.page.get_attribute("#message-bar", "role") == "alert"


def test_unavailable_backend_offers_a_retry_that_ends_in_the_offline_draft(pane_factory, server):
    pane = pane_factory(server)
    answers = iter(["503", "real"])

    def answer(route):
        if next(answers) == "503":
            fulfil_error(route, 503, "unavailable", "Try later.")
        else:
            route.continue_()

    pane.page.route(DRAFTS, answer)
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    assert "offline draft" in _wait_message(pane, "unavailable")
    pane.page.click("#message-action")
    wait_state(pane, "done")
    assert pane.page.input_value("#draft-text").startswith("Dear Jane")


def test_error_event_mid_stream_keeps_the_text_and_explains(pane_factory, server):
    pane = pane_factory(server)
    pane.page.route(DRAFTS, lambda route: fulfil_sse(
        route, ("delta", {"text": "Hi Jane,\n\nThanks "}),
        ("error", {"error": {"code": "internal_error", "message": "The provider hung up.",
                             "request_id": "req-9"}})))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    text = _wait_message(pane, "The provider hung up.")
    assert "req-9" in text
    wait_state(pane, "stopped")
    assert pane.page.input_value("#draft-text") == "Hi Jane,\n\nThanks "


def test_reset_event_discards_the_text_shown_so_far(pane_factory, server):
    pane = pane_factory(server)
    pane.page.route(DRAFTS, lambda route: fulfil_sse(
        route, ("delta", {"text": "Broken start"}), ("reset", {"reason": "provider failed"}),
        ("delta", {"text": "Thanks, Jane."}), ("done", draft_payload("Thanks, Jane."))))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    assert pane.page.input_value("#draft-text") == "Thanks, Jane."


def test_signed_out_shows_sign_in_which_runs_the_interactive_flow(pane_factory, server):
    pane = pane_factory(server)
    use_identity_provider(pane)
    answers = iter(["401", "ok"])

    def answer(route):
        if next(answers) == "401":
            fulfil_error(route, 401, "unauthorized", "Sign in to use Replywise.")
        else:
            fulfil_sse(route, ("delta", {"text": "Thanks, Jane."}),
                       ("done", draft_payload("Thanks, Jane.")))

    pane.page.route(DRAFTS, answer)
    pane.open({"mode": "read", "sets": {"Mailbox": "1.9", "NestedAppAuth": "1.1"}})
    ready(pane)
    assert pane.page.is_hidden("#identity-chip")
    pane.page.click("#draft-button")
    _wait_message(pane, "signed out")
    assert pane.page.text_content("#message-action") == "Sign in"
    pane.page.click("#message-action")
    wait_state(pane, "done")
    calls = [c["method"] for c in pane.page.evaluate("window.__msalCalls")]
    assert calls == ["createNestablePublicClientApplication", "acquireTokenSilent",
                     "acquireTokenPopup"]
    config = pane.page.evaluate("window.__msalCalls[0].args[0]")
    assert config["auth"]["clientId"] == "11111111-2222-3333-4444-555555555555"
    first, second = wait_api(pane, "/api/v1/drafts", count=2)[:2]
    assert first["headers"]["authorization"] == "Bearer silent-token"
    assert second["headers"]["authorization"] == "Bearer popup-token-1"
    scopes = pane.page.evaluate("window.__msalCalls[1].args[0].scopes")
    assert scopes == ["api://11111111-2222-3333-4444-555555555555/access_as_user"]


def test_interaction_required_goes_straight_to_the_popup(pane_factory, server):
    pane = pane_factory(server)
    use_identity_provider(pane)
    pane.page.add_init_script("window.__msalConfig = {silent: 'interaction_required'};")
    pane.page.route(DRAFTS, lambda route: fulfil_sse(route, ("done", draft_payload())))
    pane.open({"mode": "read", "sets": {"Mailbox": "1.9", "NestedAppAuth": "1.1"}})
    ready(pane)
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    assert wait_api(pane, "/api/v1/drafts")[0]["headers"]["authorization"] == \
        "Bearer popup-token-1"


def test_claims_challenge_is_passed_to_the_popup(pane_factory, server):
    pane = pane_factory(server)
    use_identity_provider(pane)
    claims = '{"access_token":{"capolids":{"essential":true,"values":["abc"]}}}'
    answers = iter(["401", "ok"])

    def answer(route):
        if next(answers) == "401":
            fulfil_error(route, 401, "claims_challenge", "More proof needed.", claims=claims)
        else:
            fulfil_sse(route, ("done", draft_payload()))

    pane.page.route(DRAFTS, answer)
    pane.open({"mode": "read", "sets": {"Mailbox": "1.9", "NestedAppAuth": "1.1"}})
    ready(pane)
    pane.page.click("#draft-button")
    _wait_message(pane, "sign in again")
    pane.page.click("#message-action")
    wait_state(pane, "done")
    popup = [c for c in pane.page.evaluate("window.__msalCalls")
             if c["method"] == "acquireTokenPopup"]
    assert popup[0]["args"][0]["claims"] == claims


def test_without_nested_app_auth_office_sso_supplies_the_token(pane_factory, server):
    pane = pane_factory(server)
    use_identity_provider(pane)
    pane.page.route(DRAFTS, lambda route: fulfil_sse(route, ("done", draft_payload())))
    pane.open({"mode": "read", "sets": {"Mailbox": "1.9", "NestedAppAuth": None}})
    ready(pane)
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    assert pane.calls("auth.getAccessToken")[0]["args"][0]["allowSignInPrompt"] is True
    assert wait_api(pane, "/api/v1/drafts")[0]["headers"]["authorization"] == \
        "Bearer office-sso-token"
    assert pane.page.evaluate("window.__msalCalls === undefined"), "MSAL is never loaded"


def test_outside_office_a_deployment_with_sign_in_says_to_open_outlook(pane_factory, server):
    pane = pane_factory(server)
    use_identity_provider(pane)
    pane.open(stub=False)
    ready(pane)
    pane.page.click("#draft-button")
    assert "inside Outlook only" in _wait_message(pane, "Open Replywise from Outlook")
    assert pane.page.is_hidden("#message-action"), "no Sign in button that cannot work"
    assert pane.api_requests("/api/v1/drafts") == []


def test_local_mode_sends_no_token(pane_factory, server):
    pane = _open(pane_factory, server)
    assert pane.page.is_visible("#identity-chip")
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    assert "authorization" not in wait_api(pane, "/api/v1/drafts")[0]["headers"]
