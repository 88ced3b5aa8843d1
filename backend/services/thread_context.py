"""The whole conversation from Microsoft Graph, for tenants that turn it on (policy graph_context).

The taskpane only sees the open message; Graph has the rest of the thread. The messages are
fetched with an on-behalf-of token (the user's own mailbox, nothing more) and become the
thread's earlier messages before redaction, so they are redacted like everything else.

Only consent problems stop a draft, because only the user can fix them (the pane acts on the
401). Anything else Graph or Entra does wrong degrades to drafting without the extra context.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from backend.drafting.html_text import html_to_text
from backend.drafting.mail import MailParseError, message_from_fields
from backend.drafting.model import EmailMessage
from backend.governance.identity import Principal
from backend.governance.policy import TenantPolicy
from backend.providers.graph import GraphError, delegated_scope
from backend.providers.microsoft_identity import ClaimsChallenge, ConsentRequired, DelegationFailed
from backend.services import identity
from backend.services.runtime import Runtime

if TYPE_CHECKING:  # pragma: no cover - drafting imports this module
    from backend.services.drafting import DraftRequest

log = logging.getLogger(__name__)

MAX_MESSAGES = 25
# A forwarded report can be megabytes; the prompt keeps a few thousand tokens anyway, so the
# rest would only cost redaction time.
MAX_BODY_CHARS = 50_000


def with_graph_context(rt: Runtime, principal: Principal, req: "DraftRequest",
                       policy: TenantPolicy) -> "DraftRequest":
    """The request with its thread's earlier messages read from Graph, when the tenant's
    policy allows it and the request came from Outlook with an Entra token; else unchanged."""
    if not (policy.graph_context and req.surface == "outlook"
            and principal.idp == identity.ENTRA_IDP and req.conversation_id
            and req.user_assertion):
        return req
    try:
        token = identity.on_behalf_of(rt).graph_token(
            principal.tenant_id, principal.subject, req.user_assertion,
            scopes=(graph_scope(rt.settings.graph_base_url),))
    except ConsentRequired:
        raise identity.BearerRejected(
            "Replywise needs permission to read this conversation in your mailbox. Sign in "
            "again and accept, or ask your administrator to grant consent for your "
            "organisation.", code="consent_required", error="insufficient_scope") from None
    except ClaimsChallenge as exc:
        raise identity.BearerRejected(
            "Your organisation requires you to sign in again before Replywise can read this "
            "conversation.", code="claims_challenge", error="insufficient_claims",
            claims=exc.claims) from None
    except DelegationFailed as exc:
        log.warning("graph context skipped: no delegated token",
                    extra={"error_type": type(exc).__name__, "error": exc.error})
        return req
    try:
        items = identity.graph_client(rt).conversation_messages(token, req.conversation_id,
                                                                top=MAX_MESSAGES)
    except GraphError as exc:
        log.warning("graph context skipped: graph call failed",
                    extra={"error_type": type(exc).__name__, "status": exc.status,
                           "error": exc.code})
        return req
    earlier = earlier_messages(items, req.thread.message)
    if not earlier:
        return req  # nothing new: keep whatever thread the client sent
    return replace(req, thread=replace(req.thread, earlier=tuple(earlier)))


def earlier_messages(items: list[dict[str, Any]], answered: EmailMessage) -> list[EmailMessage]:
    """Graph messages (oldest first) that came before the one being answered, as EmailMessages.

    The answered message is recognised by its Internet Message-ID; everything from it on is
    dropped. Without an id, messages received after the answered message's date are dropped.
    Drafts are never context: one of them is probably the reply being written.
    """
    answered_id = _message_id(answered.message_id)
    found: list[EmailMessage] = []
    for item in items:
        if item.get("isDraft") is True:
            continue
        if answered_id and _message_id(item.get("internetMessageId")) == answered_id:
            break
        message = _to_message(item)
        if message is None:
            continue
        if not answered_id and _later(message.date, answered.date):
            continue
        found.append(message)
    return found


def _to_message(item: dict[str, Any]) -> EmailMessage | None:
    body = item.get("body") if isinstance(item.get("body"), dict) else {}
    content = body.get("content") if isinstance(body.get("content"), str) else ""
    content = content[:MAX_BODY_CHARS]
    if str(body.get("contentType", "")).lower() == "html":
        content = html_to_text(content)
    try:
        return message_from_fields({
            "subject": item.get("subject"), "from": item.get("from"),
            "to": item.get("toRecipients") or [], "cc": item.get("ccRecipients") or [],
            "date": item.get("receivedDateTime"), "body_text": content,
            "message_id": item.get("internetMessageId")})
    except MailParseError:
        # One odd message (Graph's shapes vary with item types) must not cost the others.
        log.info("skipping a graph message that could not be read")
        return None


def _message_id(value: Any) -> str:
    return value.strip().strip("<>").strip() if isinstance(value, str) else ""


def _later(date: datetime | None, than: datetime | None) -> bool:
    return date is not None and than is not None and date > than


def graph_scope(graph_base_url: str) -> str:
    """Mail.Read on the Graph this deployment talks to (sovereign clouds have their own host)."""
    return delegated_scope(graph_base_url, "Mail.Read")
