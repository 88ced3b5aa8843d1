"""/api/v1: drafts, feedback and the OpenAPI document. Views parse, call a service, serialise."""
from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, jsonify, request

from backend.drafting.mail import MailParseError, message_from_rfc822, thread_from_fields
from backend.drafting.model import DraftOptions, Length, MailThread, Refinement, Tone
from backend.errors import InvalidField
from backend.services import drafting, grounding, overload
from backend.services.drafts_store import record_feedback
from backend.services.runtime import runtime
from backend.web.auth import current_principal, user_assertion
from backend.web.openapi import document
from backend.web.sse import event_stream
from backend.web.validation import json_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/drafts")
def create_draft():
    """Draft a reply; streams when the client accepts text/event-stream."""
    overload.refuse_if_overloaded(runtime())  # first: a shed draft must cost next to nothing
    principal = current_principal()
    draft_request = parse_draft_request(json_body(request, "DraftRequest"),
                                        user_assertion=user_assertion())
    events = drafting.stream_draft(runtime(), principal, draft_request)
    identity = "local" if principal.is_local else "token"
    if request.accept_mimetypes.best_match(["application/json", "text/event-stream"]) \
            == "text/event-stream":
        return event_stream(_sse(events, identity))
    for event in events:
        if isinstance(event, drafting.Done):
            return jsonify(serialise_draft(event.result, identity))
    raise RuntimeError("draft ended without a result")  # pragma: no cover


@bp.post("/drafts/<draft_id>/feedback")
def give_feedback(draft_id: str):
    """Record what the user did with a draft."""
    principal = current_principal()
    body = json_body(request, "FeedbackRequest")
    result = record_feedback(runtime(), principal, draft_id, action=body.get("action"),
                             rating=body.get("rating"), final_text=body.get("final_text"))
    return jsonify(result), 201


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(document())


def _sse(events: Iterator[drafting.DraftEvent], identity: str) -> Iterator[tuple[str, Any]]:
    for event in events:
        if isinstance(event, drafting.Delta):
            yield "delta", {"text": event.text}
        elif isinstance(event, drafting.Restart):
            yield "reset", {"reason": event.reason}
        elif isinstance(event, drafting.Done):
            yield "done", serialise_draft(event.result, identity)


def parse_draft_request(body: dict[str, Any], *,
                        user_assertion: str | None = None) -> drafting.DraftRequest:
    """Translate the validated JSON body into a DraftRequest (`user_assertion`: the caller's
    Entra token, kept for an on-behalf-of Graph read)."""
    if ("message" in body) == ("raw_message" in body):
        raise InvalidField("message", "Give exactly one of 'message' or 'raw_message'.")
    try:
        if "raw_message" in body:
            try:
                raw = base64.b64decode(body["raw_message"], validate=True)
            except (binascii.Error, ValueError):
                raise InvalidField("raw_message", "'raw_message' must be base64.") from None
            thread = MailThread(message=message_from_rfc822(raw))
        else:
            thread = thread_from_fields(body["message"])
    except MailParseError as exc:
        raise InvalidField("message", f"The message could not be read: {exc}") from None
    return drafting.DraftRequest(thread=thread, options=parse_options(body.get("options") or {}),
                                 surface=body.get("surface", "api"),
                                 regenerate=bool(body.get("regenerate", False)),
                                 conversation_id=(body.get("message") or {}).get(
                                     "conversation_id") or None,
                                 user_assertion=user_assertion)


def parse_options(data: dict[str, Any]) -> DraftOptions:
    """DraftOptions from validated JSON; refinement needs the draft being refined."""
    refine = Refinement(data["refine"]) if data.get("refine") else None
    if refine and not data.get("previous_draft"):
        raise InvalidField("options.previous_draft",
                           "'options.previous_draft' is required when refining a draft.")
    return DraftOptions(tone=Tone(data.get("tone", "neutral")),
                        length=Length(data.get("length", "medium")),
                        language=data.get("language"), instructions=data.get("instructions", ""),
                        refine=refine, previous_draft=data.get("previous_draft"),
                        grounding=data.get("grounding", True))


def serialise_draft(result: drafting.DraftResult, identity: str) -> dict[str, Any]:
    """The Draft schema of the OpenAPI document."""
    return {
        "id": result.id, "text": result.text, "html": result.html,
        "provider": result.provider, "model": result.model, "status": result.status,
        "offline_fallback": result.offline_fallback, "notice": result.notice,
        "language": result.language,
        "usage": {"prompt_tokens": result.usage.prompt_tokens,
                  "completion_tokens": result.usage.completion_tokens,
                  "total_tokens": result.usage.total_tokens},
        "cost_usd": format(result.cost_usd, "f"),
        "timings": {"total_ms": result.total_ms, "ttft_ms": result.ttft_ms},
        "attempts": result.attempts, "failovers": result.failovers,
        "pii": result.pii_counts, "identity": identity, "cached": result.cached,
        "sources": grounding.cited(result.sources, result.text),
    }


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
