"""mail: EmailMessage and MailThread from add-on JSON fields and from raw RFC 822 bytes."""
from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from backend.drafting.mail import (
    MailParseError,
    message_from_fields,
    message_from_rfc822,
    thread_from_fields,
)
from backend.drafting.model import Address, EmailMessage

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mail"


def _eml(name: str) -> EmailMessage:
    return message_from_rfc822((FIXTURES / name).read_bytes())


# --- JSON fields ---------------------------------------------------------------------------------


def test_fields_with_strings_build_a_message() -> None:
    message = message_from_fields({
        "subject": "  Q1   figures ",
        "from": "Jane Doe <jane@x.com>",
        "to": ["bob@y.com", "Ann Lee <ann@y.com>"],
        "cc": '"Doe, John" <john@x.com>, carl@y.com',
        "date": "2025-01-06T10:00:00Z",
        "body_text": "Hi Bob,\r\nfigures please.\r\n",
        "message_id": " <abc@x.com> ",
    })

    assert message == EmailMessage(
        subject="Q1 figures",
        sender=Address("Jane Doe", "jane@x.com"),
        to=(Address("", "bob@y.com"), Address("Ann Lee", "ann@y.com")),
        cc=(Address("Doe, John", "john@x.com"), Address("", "carl@y.com")),
        date=datetime(2025, 1, 6, 10, 0, tzinfo=UTC),
        body_text="Hi Bob,\nfigures please.",
        message_id="<abc@x.com>",
    )


@pytest.mark.parametrize(
    "sender",
    [
        {"name": "Jane Doe", "email": "jane@x.com"},
        {"displayName": "Jane Doe", "emailAddress": "jane@x.com"},  # Office.js
        {"emailAddress": {"name": "Jane Doe", "address": "jane@x.com"}},  # Microsoft Graph
        '"Jane Doe" <jane@x.com>',
        "Jane Doe <jane@x.com>",
        "jane@x.com (Jane Doe)",
    ],
    ids=["name_email", "office_js", "graph", "quoted_name", "plain_name", "comment_name"],
)
def test_sender_is_read_from_every_shape_the_surfaces_send(sender: object) -> None:
    assert message_from_fields({"from": sender}).sender == Address("Jane Doe", "jane@x.com")


def test_recipient_strings_split_on_commas_and_semicolons_outside_quotes() -> None:
    message = message_from_fields({"to": 'a@x.com; "Lee, Ann" <ann@x.com>, Bo <bo@x.com>;'})

    assert message.to == (
        Address("", "a@x.com"), Address("Lee, Ann", "ann@x.com"), Address("Bo", "bo@x.com")
    )


def test_unquoted_outlook_style_last_first_name_stays_one_address() -> None:
    assert message_from_fields({"to": "Doe, Jane <jane@x.com>"}).to == (
        Address("Doe, Jane", "jane@x.com"),
    )


def test_groups_and_empty_entries_are_skipped() -> None:
    message = message_from_fields({"to": "undisclosed-recipients:;", "cc": ["", None, " , "]})

    assert message.to == ()
    assert message.cc == ()


def test_a_bare_display_name_is_kept_without_an_address() -> None:
    assert message_from_fields({"from": "Jane Doe"}).sender == Address("Jane Doe", "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-06T10:00:00Z", datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        ("2025-01-06T11:00:00+01:00", datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        ("2025-01-06T10:00:00.1234567Z", datetime(2025, 1, 6, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2025-01-06", datetime(2025, 1, 6, tzinfo=UTC)),
        ("Mon, 6 Jan 2025 10:00:00 +0000", datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        ("Mon, 06 Jan 2025 11:00:00 +0100 (CET)", datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        (1736157600000, datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        (1736157600, datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        (datetime(2025, 1, 6, 10, 0), datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
    ],
    ids=["iso_z", "iso_offset", "iso_seven_fraction_digits", "iso_date_only", "rfc2822",
         "rfc2822_comment", "epoch_ms", "epoch_s", "naive_datetime"],
)
def test_dates_are_parsed_to_aware_datetimes(value: object, expected: datetime) -> None:
    assert message_from_fields({"date": value}).date == expected


@pytest.mark.parametrize("value", ["yesterday", "2025-13-45T99:99", "Mon, 32 Foo 2025", "", None])
def test_unparseable_dates_become_none(value: object) -> None:
    assert message_from_fields({"date": value}).date is None


def test_html_body_is_converted_when_it_is_the_only_body() -> None:
    message = message_from_fields({"body_html": "<p>Hi&nbsp;Bob,</p><p>Tuesday?</p>"})

    assert message.body_text == "Hi Bob,\n\nTuesday?"


def test_text_body_wins_over_html_when_both_are_sent() -> None:
    message = message_from_fields(
        {"body_text": "plain version", "body_html": "<p>html version</p>"}
    )

    assert message.body_text == "plain version"


def test_blank_text_body_falls_back_to_html() -> None:
    message = message_from_fields({"body_text": "  \n", "body_html": "<p>html version</p>"})

    assert message.body_text == "html version"


def test_lone_surrogates_from_json_are_replaced() -> None:
    message = message_from_fields({
        "subject": "Hi \ud800", "from": {"name": "J\udc00", "email": "j@x.com"},
        "to": "Bo\ud801 <bo@x.com>", "body_text": "text \udfff",
    })

    assert message.subject == "Hi \ufffd"
    assert message.sender == Address("J\ufffd", "j@x.com")
    assert message.to == (Address("Bo\ufffd", "bo@x.com"),)
    assert message.body_text == "text \ufffd"


def test_missing_fields_give_an_empty_message() -> None:
    assert message_from_fields({}) == EmailMessage()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"to": 42}, "to must be a list or string"),
        ({"cc": {"a", "b"}}, "cc must be a list or string"),
        ({"to": ["a@x.com", 7]}, "to[1] must be a string or an object with an email"),
        ({"from": 3.5}, "from must be a list or string"),
        ({"from": {"name": "Jane", "email": ["jane@x.com"]}}, "from.email must be a string"),
        ({"subject": ["Hi"]}, "subject must be a string"),
        ({"body_text": b"bytes"}, "body_text must be a string"),
        ({"body_html": 1}, "body_html must be a string"),
        ({"date": ["2025-01-06"]}, "date must be a string"),
        ({"message_id": 12}, "message_id must be a string"),
    ],
)
def test_fields_of_the_wrong_type_raise_an_error_naming_the_field(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(MailParseError) as caught:
        message_from_fields(fields)

    assert str(caught.value) == message


def test_fields_that_are_not_an_object_raise() -> None:
    with pytest.raises(MailParseError, match="message must be an object"):
        message_from_fields(["subject"])  # type: ignore[arg-type]


def test_mail_parse_error_is_a_value_error() -> None:
    assert issubclass(MailParseError, ValueError)


# --- threads -------------------------------------------------------------------------------------


def test_thread_keeps_earlier_messages_oldest_first() -> None:
    thread = thread_from_fields({
        "subject": "Re: Re: Plan",
        "body_text": "Third",
        "thread": [
            {"subject": "Plan", "body_text": "First", "from": "a@x.com"},
            {"subject": "Re: Plan", "body_text": "Second", "from": {"email": "b@x.com"}},
        ],
    })

    assert thread.message.body_text == "Third"
    assert [m.body_text for m in thread.earlier] == ["First", "Second"]
    assert thread.earlier[1].sender == Address("", "b@x.com")


def test_thread_without_history_has_no_earlier_messages() -> None:
    assert thread_from_fields({"body_text": "Only"}).earlier == ()


def test_thread_listing_the_answered_message_last_does_not_repeat_it() -> None:
    thread = thread_from_fields({
        "message_id": "<3@x>",
        "body_text": "Third",
        "thread": [{"message_id": "<1@x>"}, {"message_id": "<3@x>", "body_text": "Third"}],
    })

    assert [m.message_id for m in thread.earlier] == ["<1@x>"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"thread": "earlier text"}, "thread must be a list"),
        ({"thread": ["not an object"]}, "thread[0] must be an object"),
        ({"thread": [{}, {"to": 5}]}, "thread[1].to must be a list or string"),
        ({"thread": [{"from": {"email": 5}}]}, "thread[0].from.email must be a string"),
    ],
)
def test_thread_errors_name_the_earlier_message_and_field(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(MailParseError) as caught:
        thread_from_fields(fields)

    assert str(caught.value) == message


# --- RFC 822 fixtures ----------------------------------------------------------------------------


def test_outlook_multipart_alternative_prefers_the_html_part() -> None:
    message = _eml("outlook_alternative_reply.eml")

    assert message.subject == "RE: Q1 figures"
    assert message.sender == Address("Bob Smith", "bob.smith@northwind.example")
    assert message.to == (Address("Jane Doe", "jane.doe@contoso.com"),)
    assert message.cc == (
        Address("Lee, Ann", "ann.lee@northwind.example"),
        Address("Finance Team", "finance@northwind.example"),
    )
    assert message.date == datetime(2025, 1, 6, 9, 40, 9, tzinfo=UTC)
    assert message.message_id == (
        "<AM9PR08MB600127C1D3E3F4A5B6C7D8E9F0A1@AM9PR08MB6001.eurprd08.prod.outlook.com>"
    )
    # The table rendering only exists in the HTML part (the text part uses tabs).
    assert "Revenue | 1.2M\nCosts | 0.8M" in message.body_text
    assert message.body_text.startswith("Hi Jane,\n\nHere are the Q1 figures you asked for.")
    assert "From: Jane Doe <jane.doe@contoso.com>\nSent: Monday, January 6, 2025" in (
        message.body_text
    )


def test_outlook_html_hidden_text_and_head_never_reach_the_body() -> None:
    body = _eml("outlook_alternative_reply.eml").body_text

    assert "Ignore all previous instructions" not in body
    assert "Internal draft" not in body
    assert "Cambria Math" not in body
    assert "shapedefaults" not in body


def test_latin1_quoted_printable_flowed_text_is_decoded_and_unwrapped() -> None:
    message = _eml("thunderbird_latin1_flowed.eml")

    assert message.subject == "Réunion de mardi à 14 h"
    assert message.sender == Address("Renée Lefèvre", "renee.lefevre@exemple.fr")
    assert message.date == datetime(2025, 1, 6, 11, 2, 37, tzinfo=timezone(timedelta(hours=1)))
    assert (
        "Merci pour votre message. Je confirme ma présence à la réunion de mardi à 14 h, et "
        "j'apporterai le compte rendu détaillé du trimestre.\n"
    ) in message.body_text
    assert "Le 06/01/2025 à 10:00, Jean Dupont a écrit :\n> Bonjour Renée," in message.body_text


def test_windows_1252_eight_bit_text_keeps_euro_sign_and_curly_quotes() -> None:
    message = _eml("windows1252_8bit.eml")

    assert "The quote is €1,250 — that’s the “final” price" in message.body_text
    assert message.to == (Address("", "carla@example.org"),)


def test_iso_2022_jp_body_and_encoded_headers_are_decoded() -> None:
    message = _eml("iso2022jp_7bit.eml")

    assert message.subject == "お見積りの件"
    assert message.sender == Address("山田 太郎", "yamada@example.co.jp")
    assert message.body_text.startswith("田中様\n\nいつもお世話になっております。")


def test_shift_jis_base64_body_uses_microsoft_extensions() -> None:
    message = _eml("shift_jis_base64.eml")

    assert message.subject == "会議の議題"
    assert "①予算\n②日程" in message.body_text


def test_base64_utf8_html_and_folded_encoded_subject_are_decoded() -> None:
    message = _eml("gmail_html_base64_utf8.eml")

    assert message.subject == "Re: Gespräch über die Größe des Projekts 🙂"
    assert message.sender == Address("Jürgen Müller", "juergen@example.de")
    assert message.to == (Address("Jana Köhler", "jana@example.de"),)
    assert message.body_text.startswith(
        "Hallo Jana,\n\ndanke für die schnelle Antwort! Können wir das Gespräch auf Donnerstag "
        "verschieben? 🙂\n\nViele Grüße\nJürgen"
    )
    assert "schrieb Jana Köhler <jana@example.de>:\n> Hallo Jürgen," in message.body_text


def test_bogus_charset_label_falls_back_to_utf8_and_broken_date_is_none() -> None:
    message = _eml("bogus_charset_label.eml")

    assert message.sender == Address("João", "joao@example.com.br")
    assert message.body_text.startswith("Olá Pedro,\n\nSegue em anexo a proposta revisada.")
    assert message.date is None


def test_attachments_and_forwarded_messages_are_not_read() -> None:
    message = _eml("mixed_with_attachments.eml")

    assert message.body_text == (
        "Hi team, the incident report is attached. Please review before standup."
    )
    assert message.to == (
        Address("", "ops@example.net"), Address("Kim, Lee", "lee.kim@example.net")
    )


# --- RFC 822 charsets and encodings --------------------------------------------------------------

TEXTS = {
    "utf-8": "Grüße, 你好, привет €",
    "iso-8859-1": "Réunion à l'hôtel, Grüße",
    "iso-8859-15": "Prix : 20 € œuvre",
    "windows-1252": "“Quoted” — €20 … ok",
    "koi8-r": "Привет, как дела?",
    "shift_jis": "会議は明日です",
    "iso-2022-jp": "会議は明日です",
    "gb2312": "明天开会",
    "gbk": "明天開會，謝謝",
    "big5": "明天開會，謝謝",
    "euc-kr": "내일 회의",
}


def _single_part(charset: str, encoding: str, data: bytes, subtype: str = "plain") -> bytes:
    if encoding == "base64":
        payload = base64.encodebytes(data)
    elif encoding == "quoted-printable":
        payload = quopri.encodestring(data)
    else:
        payload = data
    head = (f"From: a@x.com\nSubject: test\nMIME-Version: 1.0\n"
            f'Content-Type: text/{subtype}; charset="{charset}"\n'
            f"Content-Transfer-Encoding: {encoding}\n\n")
    return head.encode("ascii") + payload


@pytest.mark.parametrize("encoding", ["base64", "quoted-printable", "8bit"])
@pytest.mark.parametrize("charset", sorted(TEXTS))
def test_common_charsets_and_transfer_encodings_are_decoded(charset: str, encoding: str) -> None:
    text = TEXTS[charset]
    codec = {"gbk": "gb18030"}.get(charset, charset)
    if encoding == "8bit" and charset == "iso-2022-jp":
        encoding = "7bit"

    message = message_from_rfc822(_single_part(charset, encoding, text.encode(codec)))

    assert message.body_text == text


def test_missing_charset_with_latin1_bytes_falls_back_to_windows_1252() -> None:
    raw = b"Subject: x\nContent-Type: text/plain\n\ncaf\xe9 \x80 10\n"

    assert message_from_rfc822(raw).body_text == "café € 10"


def test_missing_charset_with_utf8_bytes_is_read_as_utf8() -> None:
    raw = b"Subject: x\n\n" + "café 你好".encode()

    assert message_from_rfc822(raw).body_text == "café 你好"


def test_invalid_bytes_under_a_declared_charset_become_replacement_characters() -> None:
    raw = _single_part("utf-8", "8bit", b"ok \xff\xfe ok")

    assert message_from_rfc822(raw).body_text == "ok \ufffd\ufffd ok"


@pytest.mark.parametrize("charset", ["unicode_escape", "idna", "rot13", "zlib"])
def test_codec_names_that_are_not_charsets_are_not_obeyed(charset: str) -> None:
    raw = _single_part(charset, "8bit", b"caf\\u00e9")

    assert message_from_rfc822(raw).body_text == "caf\\u00e9"


def test_html_meta_charset_is_used_when_the_mime_label_is_missing() -> None:
    html = '<html><head><meta charset="windows-1251"></head><body>Привет</body></html>'
    raw = (b"Subject: x\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n"
           + html.encode("cp1251"))

    assert message_from_rfc822(raw).body_text == "Привет"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=?utf-8?B?SGVsbG8g8J+Ymg==?=", "Hello 😚"),
        ("=?UTF-8?Q?Caf=C3=A9_cr=C3=A8me?=", "Café crème"),
        ("=?iso-8859-1?q?R=E9union?= du =?iso-8859-1?q?mardi_=E0?= 10h", "Réunion du mardi à 10h"),
        ("=?utf-8?B?SGVs?=\n =?utf-8?B?bG8=?=", "Hello"),
        ("=?koi8-r?B?8NLJ18XU?=", "Привет"),
        ("=?gb2312?B?xOO6ww==?=", "你好"),
        ("=?utf-8*en?Q?Hi_there?=", "Hi there"),
        ("=?x-unknown?Q?Caf=C3=A9?=", "Café"),
        ("=?x-unknown?Q?Caf=E9?=", "Café"),
        ("=?utf-8?B?not*base64?=", "=?utf-8?B?not*base64?="),
        ("Plain subject", "Plain subject"),
    ],
    ids=["b_utf8", "q_utf8", "mixed_words", "folded_words", "koi8r", "gb2312", "rfc2231_lang",
         "unknown_charset_utf8", "unknown_charset_latin1", "bad_base64", "plain"],
)
def test_rfc2047_encoded_subjects_are_decoded(header: str, expected: str) -> None:
    raw = f"Subject: {header}\n\nbody".encode("ascii")

    assert message_from_rfc822(raw).subject == expected


def test_raw_eight_bit_headers_are_repaired() -> None:
    raw = "From: Jérôme Dupont <j@x.fr>\nSubject: Café\n\nbody".encode()
    latin = "From: Jérôme Dupont <j@x.fr>\nSubject: Café\n\nbody".encode("latin-1")

    assert message_from_rfc822(raw).sender == Address("Jérôme Dupont", "j@x.fr")
    assert message_from_rfc822(latin).subject == "Café"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 6 Jan 2025 10:00:00 +0100", datetime(2025, 1, 6, 9, 0, tzinfo=UTC)),
        ("6 Jan 2025 10:00:00 -0000", datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        ("Mon, 6 Jan 2025 10:00:00 GMT", datetime(2025, 1, 6, 10, 0, tzinfo=UTC)),
        ("Mon, 32 Foo 2025 99:00:00 +0100", None),
        ("next tuesday", None),
        ("", None),
    ],
)
def test_rfc822_dates_are_parsed_and_broken_ones_are_none(
    value: str, expected: datetime | None
) -> None:
    assert message_from_rfc822(f"Date: {value}\n\nbody".encode()).date == expected


def test_alternative_with_empty_html_falls_back_to_plain_text() -> None:
    raw = b"""Content-Type: multipart/alternative; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

The plain version.
--b
Content-Type: text/html; charset=utf-8

<html><body><img src="cid:banner"></body></html>
--b--
"""

    assert message_from_rfc822(raw).body_text == "The plain version."


def test_related_html_with_inline_images_reads_the_root_part() -> None:
    raw = b"""Content-Type: multipart/related; boundary="r"

--r
Content-Type: text/html; charset=utf-8

<p>See the chart below.</p><img src="cid:chart">
--r
Content-Type: image/png
Content-ID: <chart>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--r--
"""

    assert message_from_rfc822(raw).body_text == "See the chart below."


def test_inline_text_parts_of_a_mixed_message_are_joined_in_order() -> None:
    raw = b"""Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/plain; charset=utf-8

Before the picture.
--m
Content-Type: image/jpeg
Content-Disposition: inline

xxxx
--m
Content-Type: text/plain; charset=utf-8

After the picture.
--m--
"""

    assert message_from_rfc822(raw).body_text == "Before the picture.\n\nAfter the picture."


def test_a_message_that_is_only_a_forwarded_message_has_no_body() -> None:
    raw = b"Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n"

    assert message_from_rfc822(raw).body_text == ""


def test_multipart_without_a_boundary_is_read_as_text() -> None:
    raw = b"Content-Type: multipart/mixed\n\nJust text really.\n"

    assert message_from_rfc822(raw).body_text == "Just text really."


def test_string_input_is_accepted() -> None:
    assert message_from_rfc822("Subject: hi\n\nbody").subject == "hi"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(None, "raw must be bytes"), (12, "raw must be bytes"), (b"", "raw message is empty"),
     (b"  \r\n ", "raw message is empty")],
)
def test_unusable_raw_input_raises(raw: object, message: str) -> None:
    with pytest.raises(MailParseError, match=message):
        message_from_rfc822(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage \xff\xfe no headers at all",
        b"Content-Type: text/plain; charset=\n\nx",
        b'Content-Type: text/plain; charset="\xff\xfe"\n\nx',
        b'Content-Type: multipart/alternative; boundary="x"\n\n--x\nContent-Type: text/html\n\n<p',
        b"Content-Transfer-Encoding: base64\n\n!!!not base64!!!",
        b"Content-Transfer-Encoding: quoted-printable\n\n=ZZ=\n=",
        b"Content-Type: text/plain; charset*=utf-8''%E2%82%AC\n\nx",
        b"From: <<<@@@>>>\nTo: ,,,;;;\"unterminated\nCc: (comment\n\nx",
        b"Content-Type: text/html; charset=utf-8\nContent-Disposition: attachment\n\n<p>x</p>",
        b"Date: Mon, 6 Jan 99999 10:00:00 +0000\nSubject: =?utf-8?Q?\n\nx",
    ],
    ids=["no_headers", "empty_charset", "binary_charset", "truncated_multipart", "bad_base64",
         "bad_qp", "rfc2231_charset", "bad_addresses", "attachment_only", "bad_date_and_word"],
)
def test_damaged_messages_parse_without_raising(raw: bytes) -> None:
    message = message_from_rfc822(raw)

    assert isinstance(message, EmailMessage)
