"""The Gmail add-on's use-cases: read the open message, draft, open the draft in the thread.

The surface only translates: the open message (users.messages.get, raw) becomes a MailThread,
the user's choices become DraftOptions, and the one drafting pipeline does the rest (redaction,
providers, usage, audit) with surface "gmail" and a deadline that fits Google's ~30 s limit.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import func, select

from backend.drafting.mail import MailParseError, message_from_fields, message_from_rfc822
from backend.drafting.model import Address, DraftOptions, EmailMessage, MailThread
from backend.drafting.output import draft_to_html
from backend.drafting.reply import build_reply, reply_parent
from backend.errors import AppError, InvalidRequest, NotFound
from backend.governance import rbac
from backend.governance.identity import Principal
from backend.providers.gmail import (SCOPE_COMPOSE, SCOPE_READ_MESSAGE, GmailClient, GmailError,
                                     GmailScopeError, message_fields)
from backend.services import audit, drafting, limits, overload, tenants
from backend.services.google_identity import ScopesRequired
from backend.services.runtime import Runtime
from backend.storage.models import Draft

log = logging.getLogger(__name__)

SURFACE = "gmail"
MAX_THREAD_MESSAGES = 25
MAX_BODY_CHARS = 50_000
# Time kept back from the card deadline for reading the message before and answering after.
_MIN_DRAFT_S = 1.0


class GmailUnavailable(AppError):
    status, code = 502, "gmail_unavailable"


@dataclass(frozen=True)
class AddonEvent:
    """What the use-cases need from a Gmail event object, already read from its JSON."""

    user_oauth_token: str | None = None
    authorized_scopes: tuple[str, ...] | None = None   # None: Google did not say
    message_id: str | None = None
    thread_id: str | None = None
    message_token: str | None = None                   # gmail.accessToken
    to_recipients: tuple[str, ...] = ()
    form: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        """A form input, else a button parameter, else ""."""
        return (self.form.get(name) or self.parameters.get(name) or "").strip()


@dataclass(frozen=True)
class OpenMessage:
    """The message the add-on is showing, as read from Gmail."""

    message: EmailMessage
    message_id: str        # hex, as the API wants it
    thread_id: str         # hex
    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class UsageSummary:
    """What the homepage shows about the user's usage."""

    drafts_today: int
    drafts_this_month: int
    # Budgets do not exist yet. When they do, the budget service fills these two and the
    # homepage shows "N of M drafts left this month" instead of "No budget set".
    monthly_limit: int | None = None
    remaining: int | None = None


def usage_summary(rt: Runtime, principal: Principal, now: datetime | None = None
                  ) -> UsageSummary:
    """The user's drafts today and this month (UTC), from the drafts table."""
    now = now or datetime.now(timezone.utc)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    with rt.db.session(principal.tenant_id) as session:
        def count(since: datetime) -> int:
            return session.scalar(select(func.count()).select_from(Draft).where(
                Draft.user_id == principal.user_id, Draft.created_at >= since,
                Draft.status != "cancelled")) or 0
        today, this_month = count(day), count(month)
    monthly_limit, remaining = limits.monthly_token_budget(rt, principal, now)
    return UsageSummary(drafts_today=today, drafts_this_month=this_month,
                        monthly_limit=monthly_limit, remaining=remaining)


def read_open_message(rt: Runtime, principal: Principal, event: AddonEvent) -> OpenMessage:
    """The open message (users.messages.get?format=raw), parsed."""
    rbac.require(principal, "draft.create")
    message_id = event.message_id or event.parameters.get("message_id")
    if not message_id:
        raise InvalidRequest("Open a message first.", code="no_message")
    _require_scopes(event, SCOPE_READ_MESSAGE)
    try:
        fetched = _client(rt, event).message_raw(message_id)
    except ValueError:
        raise InvalidRequest("That is not a Gmail message id.", code="bad_message_id") from None
    except GmailScopeError:
        raise ScopesRequired([SCOPE_READ_MESSAGE]) from None
    except GmailError as exc:
        raise _unavailable(exc) from None
    try:
        message = message_from_rfc822(fetched.raw)
    except MailParseError:
        raise InvalidRequest("This message could not be read.", code="unreadable_message") \
            from None
    return OpenMessage(message=message, message_id=fetched.id, thread_id=fetched.thread_id,
                       raw=fetched.raw)


def draft_reply(rt: Runtime, principal: Principal, event: AddonEvent, options: DraftOptions,
                *, started: float) -> tuple[drafting.DraftResult, OpenMessage | None]:
    """Draft a reply to the open message (or, composing without one, from the instructions)."""
    overload.refuse_if_overloaded(rt)  # before reading the message from Gmail
    rbac.require(principal, "draft.create")
    opened: OpenMessage | None = None
    if event.message_id or event.parameters.get("message_id"):
        opened = read_open_message(rt, principal, event)
        thread = MailThread(message=opened.message,
                            earlier=_earlier_messages(rt, principal, event, opened))
    else:
        if not options.instructions.strip() and not options.previous_draft:
            raise InvalidRequest("Say what the email should say in the instructions box.",
                                 code="instructions_required")
        to = tuple(Address(name="", email=r) for r in event.to_recipients if "@" in r)
        thread = MailThread(message=EmailMessage(sender=to[0] if to else None, to=to[1:]))
    remaining = rt.settings.gmail_deadline_s - (time.monotonic() - started)
    request = drafting.DraftRequest(thread=thread, options=options, surface=SURFACE,
                                    deadline_s=max(_MIN_DRAFT_S, remaining))
    return drafting.create_draft(rt, principal, request), opened


def open_reply(rt: Runtime, principal: Principal, event: AddonEvent, text: str
               ) -> dict[str, str]:
    """Create the reply as a Gmail draft in the open message's thread (users.drafts.create)."""
    if not text.strip():
        raise InvalidRequest("There is no draft to open yet.", code="no_draft")
    _require_scopes(event, SCOPE_COMPOSE)
    opened = read_open_message(rt, principal, event)
    try:
        rfc822 = build_reply(reply_parent(opened.raw), draft_to_html(text))
    except ValueError:
        raise InvalidRequest("This message has no sender address to reply to.",
                             code="no_reply_address") from None
    try:
        created = _client(rt, event).create_draft(opened.thread_id, rfc822)
    except GmailScopeError:
        raise ScopesRequired([SCOPE_COMPOSE]) from None
    except GmailError as exc:
        raise _unavailable(exc) from None
    with rt.db.session(principal.tenant_id) as session:
        audit.record(rt, session, principal, "gmail.draft.open", target=("gmail_thread",
                                                                         created["thread_id"]))
    return created


def insert_html(principal: Principal, text: str) -> str:
    """The draft as the sanitised HTML Gmail inserts at the cursor."""
    rbac.require(principal, "draft.create")
    if not text.strip():
        raise InvalidRequest("There is no draft to insert yet.", code="no_draft")
    return draft_to_html(text)


def record_denied(rt: Runtime, principal: Principal, action: str, path: str) -> None:
    """Audit a refused action, as every surface does."""
    with rt.db.session(principal.tenant_id) as session:
        audit.record(rt, session, principal, "access.denied", result="denied",
                     details={"action": action, "path": path[:200]})


def _require_scopes(event: AddonEvent, scope: str) -> None:
    # Granular consent: the user may have granted only some scopes. Asking up front spares a
    # refused Gmail call; a list Google did not send is checked by the call itself.
    if not event.user_oauth_token:
        raise ScopesRequired([scope])
    if event.authorized_scopes is not None and scope not in event.authorized_scopes:
        raise ScopesRequired([scope])


def _client(rt: Runtime, event: AddonEvent) -> GmailClient:
    return GmailClient(rt.settings.gmail_api_base_url, event.user_oauth_token or "",
                       event.message_token)


def _earlier_messages(rt: Runtime, principal: Principal, event: AddonEvent,
                      opened: OpenMessage) -> tuple[EmailMessage, ...]:
    """The thread's messages before the open one, when the tenant lets Replywise read them."""
    # One tenant switch for "read the rest of the conversation" on every surface: Outlook reads
    # it from Graph, Gmail with users.threads.get.
    if not tenants.policy_for(rt, principal.tenant_id).graph_context:
        return ()
    try:
        items = _client(rt, event).thread_messages(opened.thread_id)
    except (GmailError, ValueError) as exc:
        # Context is a nicety: the draft goes ahead with the open message alone.
        log.warning("gmail thread context skipped", extra={
            "error_type": type(exc).__name__, "status": getattr(exc, "status", None)})
        return ()
    ids = [item.get("id") for item in items]
    if opened.message_id in ids:
        items = items[:ids.index(opened.message_id)]  # what came before the open message
    earlier: list[EmailMessage] = []
    for item in items[-MAX_THREAD_MESSAGES:]:
        if item.get("id") == opened.message_id:
            continue
        if "DRAFT" in (item.get("labelIds") or []):
            continue  # probably the reply being written
        fields = message_fields(item)
        fields["body_text"] = fields["body_text"][:MAX_BODY_CHARS]
        fields["body_html"] = fields["body_html"][:MAX_BODY_CHARS]
        try:
            earlier.append(message_from_fields(fields))
        except MailParseError:
            log.info("skipping a thread message that could not be read")
    return tuple(earlier)


def _unavailable(exc: GmailError) -> AppError:
    log.warning("gmail api call failed", extra={"status": exc.status, "reason": exc.reason})
    if exc.status == 404:
        return NotFound("Gmail no longer has this message.", code="message_not_found")
    return GmailUnavailable("Gmail did not answer as expected; try again in a moment.")
