"""Build EmailMessage and MailThread values from add-on JSON fields or raw RFC 822 bytes."""
from __future__ import annotations

import email
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email import policy
from email.utils import parsedate_to_datetime
from typing import Any

from backend.drafting.html_text import html_to_text
from backend.drafting.mime import body_of, raw_headers
from backend.drafting.model import Address, EmailMessage, MailThread


class MailParseError(ValueError):
    """Input that cannot be a mail message; the message names the offending field."""


_ANGLE_ADDRESS = re.compile(r"^(.*?)<([^<>]*)>\s*(?:\((.*)\))?$")
_COMMENT_ADDRESS = re.compile(r"^([^\s()]+@[^\s()]+)\s*\((.*)\)$")
_GROUP_NAME = re.compile(r"^[^<>\"@:]{1,80}:\s*")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_SPACES = re.compile(r"\s+")
# JSON may carry lone surrogates ("\ud800"); they cannot be encoded, so they never leave here.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def message_from_fields(fields: Mapping[str, Any]) -> EmailMessage:
    """Build an EmailMessage from an add-on's JSON fields (subject, from, to, cc, date, body)."""
    return _message(fields, "message")


def thread_from_fields(fields: Mapping[str, Any]) -> MailThread:
    """Build a MailThread from JSON fields whose optional "thread" lists earlier messages."""
    message = _message(fields, "message")
    items = fields.get("thread") or []
    if not isinstance(items, (list, tuple)):
        raise MailParseError("thread must be a list")
    earlier = [_message(item, f"thread[{i}]") for i, item in enumerate(items)]
    # Gmail and Graph list the whole conversation, the message being answered included.
    if earlier and message.message_id and earlier[-1].message_id == message.message_id:
        earlier.pop()
    return MailThread(message=message, earlier=tuple(earlier))


def message_from_rfc822(raw: bytes) -> EmailMessage:
    """Parse raw RFC 822 bytes into an EmailMessage, tolerating real-world encoding damage."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise MailParseError("raw must be bytes")
    if not bytes(raw).strip():
        raise MailParseError("raw message is empty")
    mime = email.message_from_bytes(bytes(raw), policy=policy.default)
    headers = raw_headers(mime)
    sender = _parse_addresses(headers.get("from", ""))
    return EmailMessage(
        subject=_one_line(headers.get("subject", "")),
        sender=sender[0] if sender else None,
        to=tuple(_parse_addresses(headers.get("to", ""))),
        cc=tuple(_parse_addresses(headers.get("cc", ""))),
        date=_parse_date(headers.get("date", "")),
        body_text=_clean_body(body_of(mime) or ""),
        message_id=headers.get("message-id", "").strip() or None,
    )


# --- JSON fields -------------------------------------------------------------------------------


def _message(fields: Any, where: str) -> EmailMessage:
    if not isinstance(fields, Mapping):
        raise MailParseError(f"{where} must be an object")
    prefix = "" if where == "message" else f"{where}."
    body_text = _optional_str(fields, "body_text", prefix)
    body_html = _optional_str(fields, "body_html", prefix)
    # The client's own text rendering wins when it sent one; HTML is converted only when it is
    # all we have.
    body = body_text if body_text.strip() else html_to_text(body_html)
    senders = _address_values(fields.get("from"), f"{prefix}from")
    date = fields.get("date")
    if date is not None and not isinstance(date, (str, datetime, int, float)):
        raise MailParseError(f"{prefix}date must be a string")
    return EmailMessage(
        subject=_one_line(_optional_str(fields, "subject", prefix)),
        sender=senders[0] if senders else None,
        to=tuple(_address_values(fields.get("to"), f"{prefix}to")),
        cc=tuple(_address_values(fields.get("cc"), f"{prefix}cc")),
        date=_parse_date(date),
        body_text=_clean_body(body),
        message_id=_optional_str(fields, "message_id", prefix).strip() or None,
    )


def _optional_str(fields: Mapping[str, Any], key: str, prefix: str) -> str:
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MailParseError(f"{prefix}{key} must be a string")
    return _LONE_SURROGATE.sub("\ufffd", value)


def _address_values(value: Any, where: str) -> list[Address]:
    """Addresses from a string ("a@b, Name <c@d>"), an object, or a list of either."""
    if value is None:
        return []
    if isinstance(value, str):
        return _parse_addresses(value)
    if isinstance(value, Mapping):
        found = _address_object(value, where)
        return [found] if found else []
    if isinstance(value, (list, tuple)):
        out: list[Address] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.extend(_parse_addresses(item))
            elif isinstance(item, Mapping):
                found = _address_object(item, f"{where}[{i}]")
                if found:
                    out.append(found)
            elif item is not None:
                raise MailParseError(f"{where}[{i}] must be a string or an object with an email")
        return out
    raise MailParseError(f"{where} must be a list or string")


def _address_object(value: Mapping[str, Any], where: str) -> Address | None:
    # Accepts {"name", "email"} and the shapes the surfaces send unchanged: Office.js
    # {"displayName", "emailAddress"} and Graph {"emailAddress": {"name", "address"}}.
    nested = value.get("emailAddress")
    if isinstance(nested, Mapping):
        return _address_object(nested, f"{where}.emailAddress")
    name = _first_str(value, ("name", "displayName", "display_name"), where)
    address = _first_str(value, ("email", "address", "emailAddress"), where)
    if not name and not address:
        return None
    return Address(name=_one_line(name), email=address.strip())


def _first_str(value: Mapping[str, Any], keys: tuple[str, ...], where: str) -> str:
    for key in keys:
        found = value.get(key)
        if found is None:
            continue
        if not isinstance(found, str):
            raise MailParseError(f"{where}.{key} must be a string")
        return _LONE_SURROGATE.sub("\ufffd", found)
    return ""


# --- addresses, headers, dates -------------------------------------------------------------------


def _parse_addresses(text: str) -> list[Address]:
    """Parse an address list leniently: quoted names, comments, groups, ";" separators."""
    pieces = _split_top_level(_LONE_SURROGATE.sub("\ufffd", text))
    merged: list[str] = []
    for piece in pieces:
        # Outlook shows names as "Doe, Jane"; unquoted, the comma splits the name from its address.
        if merged and "@" not in merged[-1] and "<" in piece and "@" in piece:
            merged[-1] = f"{merged[-1]}, {piece}"
        else:
            merged.append(piece)
    out: list[Address] = []
    for piece in merged:
        address = _parse_address(piece)
        if address:
            out.append(address)
    return out


def _split_top_level(text: str) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    closer, escaped = "", False
    for char in text:
        if closer:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == closer:
                closer = ""
        elif char in ",;":
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
            closer = {'"': '"', "<": ">", "(": ")"}.get(char, "")
    pieces.append("".join(current))
    return [piece.strip() for piece in pieces if piece.strip()]


def _parse_address(piece: str) -> Address | None:
    if ":" in piece:
        piece = _GROUP_NAME.sub("", piece, count=1)  # "Team: a@x" and "undisclosed-recipients:"
    if not piece:
        return None
    match = _ANGLE_ADDRESS.match(piece)
    if match:
        name, address, comment = match.group(1), match.group(2), match.group(3)
        name = name.strip() or (comment or "")
    else:
        match = _COMMENT_ADDRESS.match(piece)
        if match:
            address, name = match.group(1), match.group(2)
        elif "@" in piece and " " not in piece:
            address, name = piece, ""
        else:
            address, name = "", piece  # a bare display name, as Office.js sometimes sends
    name = _unquote_name(name)
    address = address.strip().strip("'\"")
    if not address and not name:
        return None
    return Address(name=name, email=address)


def _unquote_name(name: str) -> str:
    name = _one_line(name)
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return name.strip()


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _parse_date(value: Any) -> datetime | None:
    """ISO 8601, RFC 2822, datetime or epoch seconds/milliseconds; None when unparseable."""
    parsed: datetime | None = None
    try:
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            # JavaScript's epoch milliseconds are told from seconds by size: 1e11 is 1973 in
            # milliseconds and the year 5138 in seconds.
            parsed = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        elif isinstance(value, str) and value.strip():
            text = value.strip()
            if _ISO_DATE.match(text):
                parsed = datetime.fromisoformat(text)
            else:
                parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    if parsed is not None and parsed.tzinfo is None:
        # Naive and aware datetimes cannot be compared; a date without a zone is taken as UTC.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _clean_body(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
