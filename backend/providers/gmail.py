"""The Gmail API, as the add-on uses it: read the open message (and its thread), create a draft.

Calls carry the user's OAuth token and, for the per-message add-on scopes, the message access
token from the event object in `X-Goog-Gmail-Access-Token`. Errors come back as GmailError;
401/403 for missing consent as GmailScopeError, so the caller can ask Google for the scopes.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import requests

from backend.drafting.mime import decode_bytes

SCOPE_EXECUTE = "https://www.googleapis.com/auth/gmail.addons.execute"
SCOPE_READ_MESSAGE = "https://www.googleapis.com/auth/gmail.addons.current.message.readonly"
SCOPE_COMPOSE = "https://www.googleapis.com/auth/gmail.addons.current.action.compose"
SCOPE_EMAIL = "https://www.googleapis.com/auth/userinfo.email"
ADDON_SCOPES = (SCOPE_EXECUTE, SCOPE_READ_MESSAGE, SCOPE_COMPOSE, SCOPE_EMAIL)

_HEX_ID = re.compile(r"^[0-9a-fA-F]{1,24}$")
_PREFIXED_ID = re.compile(r"^(?:msg|thread)-[a-z]:(\d{1,30})$")
# 403s that are about quota, not consent: asking the user for scopes would not help.
_QUOTA_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


class GmailError(Exception):
    """The Gmail API refused or could not be reached; `status` 0 means no answer."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"Gmail API {status or 'unreachable'}: {reason}")
        self.status = status
        self.reason = reason


class GmailScopeError(GmailError):
    """The user's grant does not cover this call (consent missing or withdrawn)."""


def api_id(value: str) -> str:
    """The hex id the API wants, from an add-on id: "msg-f:<decimal>", "thread-f:<decimal>"
    or already hex. ValueError for anything else (it goes into a URL path)."""
    text = (value or "").strip()
    match = _PREFIXED_ID.match(text)
    if match:
        return format(int(match.group(1)), "x")
    if _HEX_ID.match(text):
        return text.lower()
    raise ValueError("not a Gmail message or thread id")


@dataclass(frozen=True)
class RawMessage:
    """One message as users.messages.get?format=raw returns it; ids in hex."""

    id: str
    thread_id: str
    raw: bytes = field(repr=False)


class GmailClient:
    """One user's Gmail, for the duration of one add-on event."""

    def __init__(self, base_url: str, user_token: str, message_token: str | None = None, *,
                 timeout_s: float = 8.0, session: requests.Session | None = None):
        self._base = f"{base_url.rstrip('/')}/gmail/v1/users/me"
        self._headers = {"Authorization": f"Bearer {user_token}", "Accept": "application/json"}
        if message_token:
            self._headers["X-Goog-Gmail-Access-Token"] = message_token
        self._timeout = (3.05, timeout_s)
        self._session = session or requests

    def message_raw(self, message_id: str) -> RawMessage:
        """A message's RFC 822 bytes and thread (users.messages.get, format=raw)."""
        hex_id = api_id(message_id)
        data = self._call("GET", f"/messages/{hex_id}", params={"format": "raw"})
        thread_id = data.get("threadId")
        if not isinstance(thread_id, str) or not _HEX_ID.match(thread_id):
            raise GmailError(200, "message has no thread id")
        return RawMessage(id=hex_id, thread_id=thread_id.lower(), raw=_b64url(data.get("raw")))

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        """The messages of a thread, oldest first (users.threads.get, format=full)."""
        data = self._call("GET", f"/threads/{api_id(thread_id)}", params={"format": "full"})
        messages = data.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    def create_draft(self, thread_id: str, rfc822: bytes) -> dict[str, str]:
        """Create a draft in the thread; returns {"draft_id", "thread_id"} (users.drafts.create)."""
        body = {"message": {"threadId": api_id(thread_id),
                            "raw": base64.urlsafe_b64encode(rfc822).decode("ascii")}}
        data = self._call("POST", "/drafts", json=body)
        message = data.get("message") if isinstance(data.get("message"), dict) else {}
        draft_id = data.get("id")
        if not isinstance(draft_id, str) or not draft_id:
            raise GmailError(200, "draft created without an id")
        return {"draft_id": draft_id, "thread_id": str(message.get("threadId") or thread_id)}

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._session.request(method, self._base + path, headers=self._headers,
                                             timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            raise GmailError(0, type(exc).__name__) from None
        if response.status_code >= 400:
            reason = _error_reason(response)
            if response.status_code == 401 or (response.status_code == 403
                                               and reason not in _QUOTA_REASONS):
                raise GmailScopeError(response.status_code, reason)
            raise GmailError(response.status_code, reason)
        try:
            data = response.json()
        except ValueError:
            raise GmailError(response.status_code, "answer is not JSON") from None
        if not isinstance(data, dict):
            raise GmailError(response.status_code, "answer is not an object")
        return data


def _error_reason(response: requests.Response) -> str:
    try:
        error = response.json().get("error") or {}
        errors = error.get("errors") or [{}]
        return str(errors[0].get("reason") or error.get("status") or response.reason)[:100]
    except (ValueError, AttributeError, IndexError, TypeError):
        return str(response.reason or response.status_code)[:100]


def _b64url(value: Any) -> bytes:
    if not isinstance(value, str):
        raise GmailError(200, "message has no raw content")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise GmailError(200, "raw content is not base64url") from None


# --- format=full messages (threads.get) → the JSON fields backend.drafting.mail understands ----


def message_fields(message: dict[str, Any]) -> dict[str, Any]:
    """Subject, from, to, cc, date, message id and body of a format=full message resource."""
    payload = message.get("payload") if isinstance(message.get("payload"), dict) else {}
    headers = _headers(payload)
    plain, html = _bodies(payload)
    return {"subject": headers.get("subject", ""), "from": headers.get("from", ""),
            "to": headers.get("to", ""), "cc": headers.get("cc", ""),
            "date": headers.get("date") or None, "message_id": headers.get("message-id", ""),
            "body_text": plain, "body_html": html}


def _headers(part: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in part.get("headers") or []:
        if isinstance(header, dict) and isinstance(header.get("name"), str):
            found.setdefault(header["name"].lower(), str(header.get("value") or ""))
    return found


def _bodies(payload: dict[str, Any]) -> tuple[str, str]:
    """The first text/plain and text/html parts that are not attachments."""
    plain = html = ""
    stack = [payload]
    while stack:
        part = stack.pop(0)
        if not isinstance(part, dict):
            continue
        parts = part.get("parts")
        if isinstance(parts, list):
            stack[:0] = parts  # depth first, in document order
            continue
        mime_type = str(part.get("mimeType") or "").lower()
        if part.get("filename") or mime_type not in {"text/plain", "text/html"}:
            continue
        text = _part_text(part)
        if mime_type == "text/plain" and not plain:
            plain = text
        elif mime_type == "text/html" and not html:
            html = text
    return plain, html


def _part_text(part: dict[str, Any]) -> str:
    body = part.get("body") if isinstance(part.get("body"), dict) else {}
    data = body.get("data")
    if not isinstance(data, str):
        return ""
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return ""
    content_type = Message()
    content_type["Content-Type"] = _headers(part).get("content-type", "text/plain")
    return decode_bytes(raw, content_type.get_content_charset())
