"""/gmail: the Google Workspace add-on's HTTP endpoints (homepage, message, compose, actions).

Each POST carries an event object; each answer is card JSON. Requests that are not from Google
for this deployment get a 401 in the usual JSON envelope. Once the caller is verified, every
problem becomes a card in plain words: Gmail shows a broken add-on for anything else.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, g, jsonify, request

from backend.drafting.model import DraftOptions, Length, Refinement, Tone
from backend.drafting.prompt import LANGUAGE_NAMES
from backend.errors import AppError
from backend.governance.identity import Principal
from backend.governance.rbac import PermissionDenied
from backend.services import gmail_addon, google_identity
from backend.services.gmail_addon import AddonEvent
from backend.services.runtime import Runtime, runtime
from backend.web import gmail_cards as cards

log = logging.getLogger(__name__)
bp = Blueprint("gmail", __name__, url_prefix="/gmail")
View = Callable[[Runtime, Principal, AddonEvent], dict[str, Any]]


def addon_view(view: View) -> Callable[[], Any]:
    """Verify the request, read the event, run the view; turn problems into cards."""

    @wraps(view)
    def handle():
        rt = runtime()
        g.gmail_started = time.monotonic()
        body = request.get_json(silent=True)
        body = body if isinstance(body, dict) else {}
        try:
            principal = google_identity.authenticate(
                rt, request.headers.get("Authorization"),
                _str(_object(body, "authorizationEventObject").get("userIdToken")),
                client_ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
        except google_identity.DomainNotEnrolled as exc:
            return jsonify(cards.push(cards.not_enrolled_card(exc.domain)))
        except google_identity.ScopesRequired as exc:
            return jsonify(cards.request_scopes(exc.scopes))
        g.principal = principal
        try:
            return jsonify(view(rt, principal, parse_event(body)))
        except google_identity.ScopesRequired as exc:
            return jsonify(cards.request_scopes(exc.scopes))
        except PermissionDenied as exc:
            gmail_addon.record_denied(rt, principal, exc.action, request.path)
            return jsonify(cards.push(cards.error_card(exc.message)))
        except AppError as exc:
            log.info("gmail action refused", extra={"code": exc.code, "status": exc.status})
            return jsonify(cards.push(cards.error_card(exc.message)))
        except Exception as exc:  # noqa: BLE001 - a card, never a broken add-on
            log.exception("gmail action failed", extra={"error_type": type(exc).__name__})
            return jsonify(cards.push(cards.error_card(
                "Something went wrong on our side; it has been logged. Try again.")))

    return handle


@bp.post("/homepage")
@addon_view
def homepage(rt: Runtime, principal: Principal, event: AddonEvent) -> dict[str, Any]:
    """The add-on's home: what it does and the user's usage."""
    usage = gmail_addon.usage_summary(rt, principal)
    return cards.push(cards.homepage_card(
        name=principal.display_name, drafts_today=usage.drafts_today,
        drafts_this_month=usage.drafts_this_month, remaining=usage.remaining,
        monthly_limit=usage.monthly_limit))


@bp.post("/message")
@addon_view
def message(rt: Runtime, principal: Principal, event: AddonEvent) -> dict[str, Any]:
    """Contextual trigger: the opened message, with the drafting controls."""
    opened = gmail_addon.read_open_message(rt, principal, event)
    sender = opened.message.sender
    return cards.push(cards.message_card(
        _base_url(rt), sender=_address(sender), subject=opened.message.subject,
        message_id=opened.message_id, thread_id=opened.thread_id))


@bp.post("/compose")
@addon_view
def compose(rt: Runtime, principal: Principal, event: AddonEvent) -> dict[str, Any]:
    """Compose trigger: the controls, Draft and Insert."""
    return cards.push(cards.compose_card(_base_url(rt), message_id=event.message_id,
                                         thread_id=event.thread_id))


@bp.post("/draft")
@addon_view
def draft(rt: Runtime, principal: Principal, event: AddonEvent) -> dict[str, Any]:
    """Draft (or regenerate, or refine) and show the draft card."""
    choices, options = _choices(event)
    result, opened = gmail_addon.draft_reply(rt, principal, event, options,
                                             started=g.gmail_started)
    card = cards.draft_card(
        _base_url(rt), text=result.text, notice=result.notice,
        mode="compose" if event.parameters.get("mode") == "compose" else "read",
        message_id=opened.message_id if opened else None,
        thread_id=opened.thread_id if opened else None, choices=choices,
        sources=tuple(f"[{s.n}] {s.document}" + (f", p. {s.page}" if s.page else "")
                      for s in result.sources if f"[{s.n}]" in result.text))
    return cards.update(card) if event.parameters.get("view") == "draft" else cards.push(card)


@bp.post("/open-reply")
@addon_view
def open_reply(rt: Runtime, principal: Principal, event: AddonEvent) -> dict[str, Any]:
    """Create the reply draft in the thread and open it."""
    created = gmail_addon.open_reply(rt, principal, event, event.parameters.get("draft", ""))
    return cards.open_created_draft(created["draft_id"], created["thread_id"])


@bp.post("/insert")
@addon_view
def insert(rt: Runtime, principal: Principal, event: AddonEvent) -> dict[str, Any]:
    """Insert the shown draft at the cursor, or draft now from the controls and insert that."""
    text = event.parameters.get("draft", "")
    if not text.strip():
        result, _ = gmail_addon.draft_reply(rt, principal, event, _choices(event)[1],
                                            started=g.gmail_started)
        text = result.text
    return cards.insert_html(gmail_addon.insert_html(principal, text))


# --- reading the event object -----------------------------------------------------------------


def parse_event(body: dict[str, Any]) -> AddonEvent:
    """The parts of a Workspace add-on event object the Gmail use-cases read."""
    common = _object(body, "commonEventObject")
    auth = _object(body, "authorizationEventObject")
    mail = _object(body, "gmail")
    form: dict[str, str] = {}
    for name, value in _object(common, "formInputs").items():
        values = _object(value, "stringInputs").get("value")
        if isinstance(name, str) and isinstance(values, list) and values \
                and isinstance(values[0], str):
            form[name] = values[0]
    parameters = {k: v for k, v in _object(common, "parameters").items()
                  if isinstance(k, str) and isinstance(v, str)}
    scopes = auth.get("authorizedScopes")
    return AddonEvent(
        user_oauth_token=_str(auth.get("userOAuthToken")),
        authorized_scopes=(tuple(s for s in scopes if isinstance(s, str))
                           if isinstance(scopes, list) else None),
        message_id=_str(mail.get("messageId")) or parameters.get("message_id"),
        thread_id=_str(mail.get("threadId")) or parameters.get("thread_id"),
        message_token=_str(mail.get("accessToken")),
        to_recipients=tuple(r for r in mail.get("toRecipients") or [] if isinstance(r, str)),
        form=form, parameters=parameters)


def _choices(event: AddonEvent) -> tuple[cards.Choices, DraftOptions]:
    tone = event.value("tone")
    tone = tone if tone in {t.value for t in Tone} else Tone.NEUTRAL.value
    length = event.value("length")
    length = length if length in {v.value for v in Length} else Length.MEDIUM.value
    language = event.value("language")
    language = language if language in LANGUAGE_NAMES else cards.AUTO_LANGUAGE
    instructions = event.value("instructions")[:cards.MAX_INSTRUCTIONS]
    refine_value = event.parameters.get("refine", "")
    refine = Refinement(refine_value) if refine_value in {r.value for r in Refinement} else None
    previous = event.parameters.get("draft") if refine else None
    choices = cards.Choices(tone=tone, length=length, language=language,
                            instructions=instructions)
    return choices, DraftOptions(
        tone=Tone(tone), length=Length(length),
        language=None if language == cards.AUTO_LANGUAGE else language,
        instructions=instructions, refine=refine if previous else None, previous_draft=previous)


def _base_url(rt: Runtime) -> str:
    return rt.settings.public_base_url or request.host_url.rstrip("/")


def _address(sender: Any) -> str:
    if sender is None:
        return ""
    return f"{sender.name} <{sender.email}>" if sender.name and sender.email else sender.display


def _object(body: Any, key: str) -> dict[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
