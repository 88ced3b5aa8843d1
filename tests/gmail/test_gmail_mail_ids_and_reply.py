"""Gmail ids in both forms, and the RFC 822 reply that threads correctly."""
from __future__ import annotations

import email
from email import policy

import pytest

from backend.drafting.reply import build_reply, reply_parent, reply_subject
from backend.providers.gmail import api_id, message_fields
from tests.gmail.gmail_support import PARENT_ID, PARENT_REFERENCES, full_message, parent_message


@pytest.mark.parametrize("given, expected", [
    ("msg-f:1789012345678901234", format(1789012345678901234, "x")),
    ("thread-f:1234567", "12d687"),
    ("18D4C0FFEE0A1B2C", "18d4c0ffee0a1b2c"),
    ("18d4c0ffee0a1b2c", "18d4c0ffee0a1b2c"),
])
def test_add_on_ids_become_the_hex_ids_the_api_wants(given, expected):
    assert api_id(given) == expected


@pytest.mark.parametrize("bad", ["", "../drafts", "msg-f:12ab", "msg-f:", "r-123", "zz99",
                                 "18d4c0ffee0a1b2c/../x"])
def test_anything_else_is_refused_before_it_reaches_a_url(bad):
    with pytest.raises(ValueError):
        api_id(bad)


@pytest.mark.parametrize("subject, expected", [
    ("Invoice", "Re: Invoice"), ("Re: Invoice", "Re: Invoice"), ("RE: Invoice", "RE: Invoice"),
    ("re : Invoice", "re : Invoice"), ("", "Re:"), ("Reply needed", "Re: Reply needed"),
])
def test_reply_subject_never_stacks_re(subject, expected):
    assert reply_subject(subject) == expected


def _parse(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def test_reply_threads_on_the_parents_message_id_and_references():
    reply = _parse(build_reply(reply_parent(parent_message()), "<p>Thanks</p>"))
    assert reply["In-Reply-To"] == PARENT_ID
    assert reply["References"] == f"{PARENT_REFERENCES} {PARENT_ID}"
    assert reply["To"] == "Jane Doe <jane.doe@acme-supplier.example>"
    assert reply.get_content_type() == "text/html" and reply.get_content_charset() == "utf-8"


def test_non_ascii_names_and_text_survive_the_round_trip():
    raw = ("From: =?utf-8?q?M=C3=BCller=2C_J=C3=BCrgen?= <j@example.de>\r\n"
           "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <x1@example.de>\r\n\r\nHallo\r\n"
           ).encode()
    reply = _parse(build_reply(reply_parent(raw), "<p>Grüße zurück</p>"))
    assert reply["To"].addresses[0].display_name == "Müller, Jürgen"
    assert reply["Subject"] == "Re: Grüße"
    assert "Grüße zurück" in reply.get_content()


def test_a_message_without_a_sender_cannot_be_answered():
    with pytest.raises(ValueError):
        build_reply(reply_parent(b"Subject: hi\r\n\r\nbody\r\n"), "<p>x</p>")


def test_full_format_thread_messages_become_mail_fields():
    fields = message_fields(full_message("abc", "Sam <sam@acme.example>", "Grüße aus Köln"))
    assert fields["from"] == "Sam <sam@acme.example>"
    assert fields["body_text"] == "Grüße aus Köln"
    assert fields["message_id"] == "<abc@mail.example>"
