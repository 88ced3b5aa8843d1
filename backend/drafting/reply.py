"""The RFC 822 reply to a message: recipients, subject and threading headers, HTML body.

Mail clients (Gmail included) put a reply in its conversation by In-Reply-To/References and a
matching subject; getting these right is what makes "Open as reply" land in the thread.
"""
from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import getaddresses

from backend.drafting.mime import raw_headers

_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_MAX_REFERENCES = 20  # long threads: keep the first and the most recent ids (RFC 5322 3.6.4)


@dataclass(frozen=True)
class ReplyParent:
    """What a reply needs from the message it answers."""

    subject: str
    reply_to: tuple[tuple[str, str], ...]   # (name, address) pairs: Reply-To, else From
    message_id: str | None
    references: tuple[str, ...]


def reply_parent(raw: bytes) -> ReplyParent:
    """Read the reply-relevant headers of a raw RFC 822 message."""
    mime = email.message_from_bytes(bytes(raw), policy=policy.default)
    headers = raw_headers(mime)
    senders = [(name, addr) for name, addr in _addresses(mime, headers) if "@" in addr]
    message_ids = _MESSAGE_ID.findall(headers.get("message-id", ""))
    return ReplyParent(subject=headers.get("subject", "").strip(), reply_to=tuple(senders),
                       message_id=message_ids[0] if message_ids else None,
                       references=tuple(_MESSAGE_ID.findall(headers.get("references", ""))))


def _addresses(mime: MimeMessage, headers: dict[str, str]) -> list[tuple[str, str]]:
    name = "reply-to" if headers.get("reply-to") else "from"
    try:
        # The structured header decodes RFC 2047 names without splitting "Doe, Jane" apart.
        return [(a.display_name, a.addr_spec) for a in mime[name].addresses]
    except (AttributeError, TypeError, ValueError, IndexError):
        return getaddresses([headers.get(name, "")])


def reply_subject(subject: str) -> str:
    """"Re: <subject>", without stacking a second "Re:"."""
    subject = subject.strip()
    if _REPLY_PREFIX.match(subject):
        return subject
    return f"Re: {subject}" if subject else "Re:"


def build_reply(parent: ReplyParent, html: str) -> bytes:
    """The reply as RFC 822 bytes (CRLF), body text/html in UTF-8. ValueError without a sender."""
    recipients = [a for a in (_address(name, addr) for name, addr in parent.reply_to) if a]
    if not recipients:
        raise ValueError("the message has no address to reply to")
    message = MimeMessage(policy=policy.SMTP)
    message["To"] = recipients
    message["Subject"] = reply_subject(parent.subject)
    if parent.message_id:
        references = [r for r in parent.references if r != parent.message_id]
        references.append(parent.message_id)
        if len(references) > _MAX_REFERENCES:
            references = references[:1] + references[-(_MAX_REFERENCES - 1):]
        message["In-Reply-To"] = parent.message_id
        message["References"] = " ".join(references)
    message.set_content(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message.as_bytes()


def _address(name: str, addr: str) -> Address | None:
    try:
        return Address(display_name=name.strip(), addr_spec=addr.strip())
    except (ValueError, IndexError, TypeError):
        return None  # a mangled address is left out rather than sent somewhere unexpected
