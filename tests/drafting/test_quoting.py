"""split_body: the newest message, the quoted history and the signature, across mail clients."""
from __future__ import annotations

import pytest

from backend.drafting.html_text import html_to_text
from backend.drafting.model import ParsedBody
from backend.drafting.quoting import split_body

LATEST = "Tuesday at 3pm works for me.\nI will bring the contract."

# (id, quote block as the client writes it, first line of the quoted history)
QUOTE_STYLES = [
    (
        "outlook_en",
        "From: Jane Doe <jane@x.com>\nSent: Monday, January 6, 2025 10:00 AM\n"
        "To: Bob Smith <bob@y.com>\nSubject: Meeting\n\nCan we meet on Tuesday?",
        "From: Jane Doe <jane@x.com>",
    ),
    (
        "outlook_bold_labels_as_text",
        "*From:* Jane Doe <jane@x.com>\n*Sent:* Monday, January 6, 2025 10:00 AM\n"
        "*To:* Bob Smith <bob@y.com>\n*Subject:* Meeting\n\nCan we meet on Tuesday?",
        "*From:* Jane Doe <jane@x.com>",
    ),
    (
        "outlook_with_cc_and_wrapped_to",
        "From: Jane Doe <jane@x.com>\nSent: Monday, January 6, 2025 10:00 AM\n"
        "To: Bob Smith <bob@y.com>; Ann Lee <ann@y.com>;\n    Carl Diaz <carl@y.com>\n"
        "Cc: Team <team@y.com>\nSubject: Meeting\n\nCan we meet on Tuesday?",
        "From: Jane Doe <jane@x.com>",
    ),
    (
        "outlook_de",
        "Von: Jana Schmidt <jana@x.de>\nGesendet: Montag, 6. Januar 2025 10:00\n"
        "An: Bob Smith <bob@y.com>\nBetreff: Termin\n\nKönnen wir uns am Dienstag treffen?",
        "Von: Jana Schmidt <jana@x.de>",
    ),
    (
        "outlook_fr",
        "De : Jeanne Martin <jeanne@x.fr>\nEnvoyé : lundi 6 janvier 2025 10:00\n"
        "À : Bob Smith <bob@y.com>\nObjet : Réunion\n\nPouvons-nous nous voir mardi ?",
        "De : Jeanne Martin <jeanne@x.fr>",
    ),
    (
        "outlook_es",
        "De: Juana García <juana@x.es>\nEnviado: lunes, 6 de enero de 2025 10:00\n"
        "Para: Bob Smith <bob@y.com>\nAsunto: Reunión\n\n¿Podemos vernos el martes?",
        "De: Juana García <juana@x.es>",
    ),
    (
        "outlook_it",
        "Da: Giovanna Rossi <giovanna@x.it>\nInviato: lunedì 6 gennaio 2025 10:00\n"
        "A: Bob Smith <bob@y.com>\nOggetto: Riunione\n\nPossiamo vederci martedì?",
        "Da: Giovanna Rossi <giovanna@x.it>",
    ),
    (
        "outlook_underscore_separator",
        "________________________________\nFrom: Jane Doe <jane@x.com>\n"
        "Sent: Monday, January 6, 2025 10:00 AM\nTo: Bob Smith <bob@y.com>\n"
        "Subject: Meeting\n\nCan we meet on Tuesday?",
        "________________________________",
    ),
    (
        "outlook_original_message",
        "-----Original Message-----\nFrom: Jane Doe [mailto:jane@x.com]\n"
        "Sent: Monday, January 6, 2025 10:00 AM\nTo: Bob Smith\nSubject: Meeting\n\nTuesday?",
        "-----Original Message-----",
    ),
    (
        "outlook_original_message_de",
        "-----Ursprüngliche Nachricht-----\nVon: Jana Schmidt\nGesendet: Montag, 6. Januar 2025"
        "\nAn: Bob\nBetreff: Termin\n\nDienstag?",
        "-----Ursprüngliche Nachricht-----",
    ),
    (
        "outlook_original_message_fr",
        "-----Message d'origine-----\nDe : Jeanne Martin\nEnvoyé : lundi 6 janvier 2025\n"
        "À : Bob\nObjet : Réunion\n\nMardi ?",
        "-----Message d'origine-----",
    ),
    (
        "outlook_original_message_es",
        "-----Mensaje original-----\nDe: Juana García\nEnviado el: lunes, 6 de enero de 2025\n"
        "Para: Bob\nAsunto: Reunión\n\n¿Martes?",
        "-----Mensaje original-----",
    ),
    (
        "outlook_original_message_it",
        "-----Messaggio originale-----\nDa: Giovanna Rossi\nInviato: lunedì 6 gennaio 2025\n"
        "A: Bob\nOggetto: Riunione\n\nMartedì?",
        "-----Messaggio originale-----",
    ),
    (
        "gmail_en",
        "On Mon, Jan 6, 2025 at 10:00 AM Jane Doe <jane@x.com> wrote:\n\n"
        "> Can we meet on Tuesday?\n>\n> Jane",
        "On Mon, Jan 6, 2025 at 10:00 AM Jane Doe <jane@x.com> wrote:",
    ),
    (
        "gmail_two_lines_split_inside_address",
        "On Mon, Jan 6, 2025 at 10:00 AM Jane Alexandra Doe-Whitfield <\n"
        "jane.doe-whitfield@example.com> wrote:\n\n> Can we meet on Tuesday?",
        "On Mon, Jan 6, 2025 at 10:00 AM Jane Alexandra Doe-Whitfield <",
    ),
    (
        "gmail_two_lines_split_before_address",
        "On Mon, Jan 6, 2025 at 10:00 AM Jane Alexandra Doe-Whitfield\n"
        "<jane.doe-whitfield@example.com> wrote:\n\n> Can we meet on Tuesday?",
        "On Mon, Jan 6, 2025 at 10:00 AM Jane Alexandra Doe-Whitfield",
    ),
    (
        "gmail_fr",
        "Le lun. 6 janv. 2025 à 10:00, Jeanne Martin <jeanne@x.fr> a écrit :\n\n"
        "> Pouvons-nous nous voir mardi ?",
        "Le lun. 6 janv. 2025 à 10:00, Jeanne Martin <jeanne@x.fr> a écrit :",
    ),
    (
        "gmail_fr_two_lines",
        "Le lun. 6 janv. 2025 à 10:00, Jeanne Martin-Dubois <\njeanne.martin@x.fr> a écrit :\n\n"
        "> Pouvons-nous nous voir mardi ?",
        "Le lun. 6 janv. 2025 à 10:00, Jeanne Martin-Dubois <",
    ),
    (
        "gmail_de",
        "Am Mo., 6. Jan. 2025 um 10:00 Uhr schrieb Jana Schmidt <jana@x.de>:\n\n"
        "> Können wir uns am Dienstag treffen?",
        "Am Mo., 6. Jan. 2025 um 10:00 Uhr schrieb Jana Schmidt <jana@x.de>:",
    ),
    (
        "gmail_de_two_lines",
        "Am Mo., 6. Jan. 2025 um 10:00 Uhr schrieb Jana Schmidt-Hoffmann <\n"
        "jana.schmidt@x.de>:\n\n> Können wir uns am Dienstag treffen?",
        "Am Mo., 6. Jan. 2025 um 10:00 Uhr schrieb Jana Schmidt-Hoffmann <",
    ),
    (
        "gmail_es",
        "El lun, 6 ene 2025 a las 10:00, Juana García (<juana@x.es>) escribió:\n\n"
        "> ¿Podemos vernos el martes?",
        "El lun, 6 ene 2025 a las 10:00, Juana García (<juana@x.es>) escribió:",
    ),
    (
        "gmail_it",
        "Il giorno lun 6 gen 2025 alle ore 10:00 Giovanna Rossi <giovanna@x.it> ha scritto:\n\n"
        "> Possiamo vederci martedì?",
        "Il giorno lun 6 gen 2025 alle ore 10:00 Giovanna Rossi <giovanna@x.it> ha scritto:",
    ),
    (
        "gmail_nl",
        "Op ma 6 jan. 2025 om 10:00 schreef Jan de Vries <jan@x.nl>:\n\n> Kunnen we dinsdag?",
        "Op ma 6 jan. 2025 om 10:00 schreef Jan de Vries <jan@x.nl>:",
    ),
    (
        "gmail_pt",
        "Em seg., 6 de jan. de 2025 às 10:00, Joana Silva <joana@x.pt> escreveu:\n\n"
        "> Podemos nos ver na terça?",
        "Em seg., 6 de jan. de 2025 às 10:00, Joana Silva <joana@x.pt> escreveu:",
    ),
    (
        "gmail_forward",
        "---------- Forwarded message ---------\nFrom: Jane Doe <jane@x.com>\n"
        "Date: Mon, Jan 6, 2025 at 10:00 AM\nSubject: Meeting\nTo: <bob@y.com>\n\nTuesday?",
        "---------- Forwarded message ---------",
    ),
    (
        "apple_mail",
        "On 6 Jan 2025, at 10:00, Jane Doe <jane@x.com> wrote:\n\n> Can we meet on Tuesday?",
        "On 6 Jan 2025, at 10:00, Jane Doe <jane@x.com> wrote:",
    ),
    (
        "apple_mail_unprefixed_quote",
        "On 6 Jan 2025, at 10:00, Jane Doe <jane@x.com> wrote:\n\nCan we meet on Tuesday?",
        "On 6 Jan 2025, at 10:00, Jane Doe <jane@x.com> wrote:",
    ),
    (
        "apple_mail_forward",
        "Begin forwarded message:\n\nFrom: Jane Doe <jane@x.com>\nSubject: Meeting\n"
        "Date: 6 January 2025 at 10:00:00 GMT\nTo: Bob Smith <bob@y.com>\n\nTuesday?",
        "Begin forwarded message:",
    ),
    (
        "iphone",
        "On Jan 6, 2025, at 10:00 AM, Jane <jane@x.com> wrote:\n\n> Can we meet on Tuesday?",
        "On Jan 6, 2025, at 10:00 AM, Jane <jane@x.com> wrote:",
    ),
    (
        "thunderbird",
        "On 06/01/2025 10:00, Jane Doe wrote:\n> Can we meet on Tuesday?",
        "On 06/01/2025 10:00, Jane Doe wrote:",
    ),
    (
        "thunderbird_forward",
        "-------- Forwarded Message --------\nSubject: Meeting\n"
        "Date: Mon, 6 Jan 2025 10:00:00 +0000\nFrom: Jane Doe <jane@x.com>\nTo: bob@y.com\n\n"
        "Tuesday?",
        "-------- Forwarded Message --------",
    ),
    (
        "thunderbird_de",
        "Am 06.01.2025 um 10:00 schrieb Jana Schmidt:\n> Können wir uns am Dienstag treffen?",
        "Am 06.01.2025 um 10:00 schrieb Jana Schmidt:",
    ),
    (
        "older_client_name_and_address_wrote",
        "Jane Doe <jane@x.com> wrote:\n> Can we meet on Tuesday?",
        "Jane Doe <jane@x.com> wrote:",
    ),
    (
        "yahoo",
        "On Monday, January 6, 2025, 10:00:00 AM GMT, Jane Doe <jane@yahoo.com> wrote:\n\n"
        "Can we meet on Tuesday?",
        "On Monday, January 6, 2025, 10:00:00 AM GMT, Jane Doe <jane@yahoo.com> wrote:",
    ),
    (
        "yahoo_mobile_indented",
        "   On Mon, Jan 6, 2025 at 10:00, Jane Doe<jane@yahoo.com> wrote:   \n   Tuesday?",
        "On Mon, Jan 6, 2025 at 10:00, Jane Doe<jane@yahoo.com> wrote:",
    ),
    (
        "yahoo_forwarded_message",
        "----- Forwarded Message -----\nFrom: Jane Doe <jane@yahoo.com>\nTo: Bob <bob@y.com>\n"
        "Sent: Monday, January 6, 2025, 10:00:00 AM GMT\nSubject: Meeting\n\nTuesday?",
        "----- Forwarded Message -----",
    ),
    (
        "yahoo_original_message",
        "----- Original Message -----\nFrom: Jane Doe <jane@yahoo.com>\nTo: Bob <bob@y.com>\n"
        "Sent: Monday, January 6, 2025 10:00 AM\nSubject: Meeting\n\nTuesday?",
        "----- Original Message -----",
    ),
    (
        "bare_original_message_label_above_headers",
        "Original message\nFrom: Jane Doe <jane@yahoo.com>\nDate: 06/01/2025 10:00\n"
        "To: Bob <bob@y.com>\nSubject: Meeting\n\nTuesday?",
        "Original message",
    ),
    (
        "android_original_message",
        "-------- Original message --------\nFrom: Jane Doe <jane@x.com>\n"
        "Date: 06/01/2025 10:00 (GMT+00:00)\nTo: bob@y.com\nSubject: Meeting\n\nTuesday?",
        "-------- Original message --------",
    ),
    (
        "aol",
        "-----Original Message-----\nFrom: Jane Doe <jane@aol.com>\nTo: bob@y.com\n"
        "Sent: Mon, Jan 6, 2025 10:00 am\nSubject: Meeting\n\nTuesday?",
        "-----Original Message-----",
    ),
    (
        "plain_angle_quotes",
        "> Can we meet on Tuesday?\n> Jane",
        "> Can we meet on Tuesday?",
    ),
    (
        "nested_angle_quotes",
        ">> Older question\n> Newer question",
        ">> Older question",
    ),
]


@pytest.mark.parametrize(("style", "quote", "first_line"), QUOTE_STYLES,
                         ids=[case[0] for case in QUOTE_STYLES])
def test_quote_header_starts_the_quoted_history(style: str, quote: str, first_line: str) -> None:
    parsed = split_body(f"{LATEST}\n\n{quote}")

    assert parsed.latest == LATEST
    assert parsed.quoted_history.splitlines()[0].strip() == first_line.strip()
    assert parsed.quoted_history.endswith(quote.splitlines()[-1].strip())


def test_outlook_from_sent_block_starts_the_quoted_history() -> None:
    body = ("Thanks, the figures look right.\n\nFrom: Jane Doe <jane@x.com>\n"
            "Sent: Monday, January 6, 2025 10:00 AM\nTo: Bob <bob@y.com>\nSubject: Q1\n\nFigures?")

    parsed = split_body(body)

    assert parsed.latest == "Thanks, the figures look right."
    assert parsed.quoted_history.startswith("From: Jane Doe <jane@x.com>\nSent:")
    assert parsed.quoted_history.endswith("Figures?")


def test_everything_after_the_first_quote_header_is_history_even_nested_ones() -> None:
    body = ("New answer.\n\nOn Tue, Jan 7, 2025 at 9:00 AM Bob <bob@y.com> wrote:\n> Middle\n>\n"
            "> On Mon, Jan 6, 2025 at 10:00 AM Jane <jane@x.com> wrote:\n>> Oldest")

    parsed = split_body(body)

    assert parsed.latest == "New answer."
    assert parsed.quoted_history.endswith(">> Oldest")


def test_a_mention_of_wrote_in_prose_is_not_a_quote_header() -> None:
    body = "On the whole, as Bob wrote:\nwe should ship on Friday."

    assert split_body(body) == ParsedBody(latest=body)


@pytest.mark.parametrize(
    "body",
    [
        "Am 6. Januar schrieb ich Ihnen bereits:\n- das Angebot\n- die Rechnung",
        "On 6 January 2025 our auditor wrote:\nthe figures are fine.",
    ],
)
def test_prose_with_a_date_but_no_time_or_address_is_not_a_quote_header(body: str) -> None:
    assert split_body(body) == ParsedBody(latest=body)


def test_a_single_from_line_in_prose_is_not_a_header_block() -> None:
    body = "From: the legal team's point of view this is fine.\nTo: be confirmed next week."

    assert split_body(body).quoted_history == ""


def test_a_line_of_underscores_without_headers_is_not_a_quote() -> None:
    body = "Please sign here:\n________________________________\nThanks"

    assert split_body(body).quoted_history == ""


def test_inline_answers_between_quoted_lines_stay_in_latest() -> None:
    body = ("On 06/01/2025 10:00, Jane Doe wrote:\n> Can you do Tuesday?\n\nYes, Tuesday works.\n\n"
            "> And bring the report?\n\nSure.")

    parsed = split_body(body)

    assert parsed.latest == body
    assert parsed.quoted_history == ""


def test_bottom_posted_answer_below_the_quote_stays_in_latest() -> None:
    body = "> Can you do Tuesday?\n\nYes, Tuesday works."

    assert split_body(body).latest == body


def test_quote_followed_only_by_a_signature_is_still_history() -> None:
    body = "Yes.\n\nOn 06/01/2025 10:00, Jane Doe wrote:\n> Tuesday?\n\n-- \nJane Doe"

    parsed = split_body(body)

    assert parsed.latest == "Yes."
    assert parsed.quoted_history.startswith("On 06/01/2025")


def test_outlook_block_below_an_inline_reply_is_still_history() -> None:
    body = ("> Tuesday?\nYes.\n\nFrom: Jane <jane@x.com>\nSent: Monday\nTo: Bob <bob@y.com>\n"
            "Subject: Meeting\n\nOld text")

    parsed = split_body(body)

    assert parsed.latest == "> Tuesday?\nYes."
    assert parsed.quoted_history.startswith("From: Jane")


def test_body_that_starts_with_a_forward_has_empty_latest() -> None:
    body = "---------- Forwarded message ---------\nFrom: Jane <jane@x.com>\nSubject: Hi\n\nHello"

    parsed = split_body(body)

    assert parsed.latest == ""
    assert parsed.quoted_history == body


SIGNATURES = [
    ("dash_dash_space", "-- \nJane Doe\nACME Ltd", "Jane Doe\nACME Ltd"),
    ("dash_dash_from_html", "--\nJane Doe", "Jane Doe"),
    ("iphone", "Sent from my iPhone", "Sent from my iPhone"),
    ("outlook_android", "Sent from Outlook for Android", "Sent from Outlook for Android"),
    ("outlook_ios_with_link", "Get Outlook for iOS (https://aka.ms/o0ukef)",
     "Get Outlook for iOS (https://aka.ms/o0ukef)"),
    ("iphone_de", "Von meinem iPhone gesendet", "Von meinem iPhone gesendet"),
    ("iphone_fr", "Envoyé de mon iPhone", "Envoyé de mon iPhone"),
    ("iphone_es", "Enviado desde mi iPhone", "Enviado desde mi iPhone"),
    ("iphone_it", "Inviato da iPhone", "Inviato da iPhone"),
    ("yahoo_android", "Sent from Yahoo Mail on Android", "Sent from Yahoo Mail on Android"),
    ("best_regards_block",
     "Best regards,\nJane Doe\nHead of Sales\nACME Ltd\n+44 20 7946 0000\nwww.acme.example",
     "Best regards,\nJane Doe\nHead of Sales\nACME Ltd\n+44 20 7946 0000\nwww.acme.example"),
    ("kind_regards", "Kind regards,\nJane", "Kind regards,\nJane"),
    ("regards", "Regards\nJane Doe", "Regards\nJane Doe"),
    ("best", "Best,\nJane", "Best,\nJane"),
    ("thanks_with_name_on_the_line", "Thanks, Jane", "Thanks, Jane"),
    ("thank_you", "Thank you!\nJane", "Thank you!\nJane"),
    ("cheers", "Cheers\nJ.", "Cheers\nJ."),
    ("sincerely", "Sincerely,\nJane Doe, PhD", "Sincerely,\nJane Doe, PhD"),
    ("cordialement", "Cordialement,\nJeanne Martin\nDirectrice commerciale",
     "Cordialement,\nJeanne Martin\nDirectrice commerciale"),
    ("bien_a_vous", "Bien à vous,\nJeanne", "Bien à vous,\nJeanne"),
    ("mfg", "Mit freundlichen Grüßen\nJana Schmidt\nVertrieb",
     "Mit freundlichen Grüßen\nJana Schmidt\nVertrieb"),
    ("viele_gruesse", "Viele Grüße\nJana", "Viele Grüße\nJana"),
    ("lg", "LG\nJana", "LG\nJana"),
    ("saludos", "Saludos,\nJuana", "Saludos,\nJuana"),
    ("un_saludo", "Un saludo,\nJuana García", "Un saludo,\nJuana García"),
    ("atentamente", "Atentamente,\nJuana García\nGerente", "Atentamente,\nJuana García\nGerente"),
    ("cordiali_saluti", "Cordiali saluti,\nGiovanna Rossi", "Cordiali saluti,\nGiovanna Rossi"),
    ("saluti", "Saluti\nGiovanna", "Saluti\nGiovanna"),
    ("closing_then_dash_dash_then_mobile",
     "Best,\nJane\n-- \nJane Doe | ACME\n\nSent from my iPhone",
     "Best,\nJane\n-- \nJane Doe | ACME\n\nSent from my iPhone"),
]


@pytest.mark.parametrize(("style", "signature", "expected"), SIGNATURES,
                         ids=[case[0] for case in SIGNATURES])
def test_signature_is_separated_from_the_latest_message(
    style: str, signature: str, expected: str
) -> None:
    parsed = split_body(f"Hi Bob,\n\n{LATEST}\n\n{signature}")

    assert parsed.latest == f"Hi Bob,\n\n{LATEST}"
    assert parsed.signature == expected


def test_signature_comes_before_the_quoted_history() -> None:
    body = (f"{LATEST}\n\nSent from my iPhone\n\nOn Jan 6, 2025, at 10:00 AM, Jane <j@x.com> wrote:"
            "\n\n> Tuesday?")

    parsed = split_body(body)

    assert parsed == ParsedBody(
        latest=LATEST,
        quoted_history="On Jan 6, 2025, at 10:00 AM, Jane <j@x.com> wrote:\n\n> Tuesday?",
        signature="Sent from my iPhone",
    )


def test_a_thank_you_sentence_is_not_a_closing() -> None:
    body = "Thanks for the update, I will review the contract tomorrow.\nJane"

    assert split_body(body) == ParsedBody(latest=body)


def test_closing_followed_by_a_question_is_not_a_signature() -> None:
    body = "Hi Bob,\nThanks!\nCan you send the deck by Friday?\nJane"

    assert split_body(body).signature == ""


def test_closing_followed_by_too_many_lines_is_not_a_signature() -> None:
    body = "Thanks\n" + "\n".join(f"item {n}" for n in range(10))

    assert split_body(body).signature == ""


def test_only_the_last_closing_starts_the_signature() -> None:
    body = "Thanks!\n\nAlso, could you send the invoice?\n\nBest,\nJane"

    parsed = split_body(body)

    assert parsed.latest == "Thanks!\n\nAlso, could you send the invoice?"
    assert parsed.signature == "Best,\nJane"


@pytest.mark.parametrize("body", ["Thanks!", "Thanks,\nJane", "Sent from my iPhone", "-- \nJane"])
def test_text_that_is_all_signature_stays_in_latest(body: str) -> None:
    parsed = split_body(f"{body}\n\nOn 06/01/2025 10:00, Jane Doe wrote:\n> Tuesday?")

    assert parsed.latest == body.strip()
    assert parsed.signature == ""
    assert parsed.quoted_history.startswith("On 06/01/2025")


@pytest.mark.parametrize("body", ["", "   ", "\n\n\n"])
def test_empty_body_gives_empty_parts(body: str) -> None:
    assert split_body(body) == ParsedBody(latest="")


def test_windows_line_endings_and_non_breaking_spaces_are_normalised() -> None:
    body = "Yes.\r\n\r\nOn\xa0Mon, Jan 6, 2025 at 10:00 AM Jane <j@x.com> wrote:\r\n> Tuesday?"

    parsed = split_body(body)

    assert parsed.latest == "Yes."
    assert parsed.quoted_history == (
        "On Mon, Jan 6, 2025 at 10:00 AM Jane <j@x.com> wrote:\n> Tuesday?"
    )


def test_html_converted_gmail_reply_splits_cleanly() -> None:
    html = ('<div dir="ltr">Works for me.<div><br></div><div>Best,</div><div>Bob</div></div><br>'
            '<div class="gmail_quote"><div class="gmail_attr">On Mon, Jan 6, 2025 at 10:00 AM '
            'Jane &lt;<a href="mailto:j@x.com">j@x.com</a>&gt; wrote:<br></div>'
            '<blockquote class="gmail_quote"><div>Tuesday?</div></blockquote></div>')

    parsed = split_body(html_to_text(html))

    assert parsed == ParsedBody(
        latest="Works for me.",
        quoted_history="On Mon, Jan 6, 2025 at 10:00 AM Jane <j@x.com> wrote:\n> Tuesday?",
        signature="Best,\nBob",
    )


@pytest.mark.parametrize(
    "body",
    [
        ("On " + "1 " * 200 + "\n") * 250,
        ("Am 1 " + "schrieb " * 45 + "x:\n") * 150,
        ("From: x\n" + "a\n") * 5000,
        "> a\nb\n" * 12000,
        "Thanks\n" * 7000,
        ("a@b.c " * 12 + "wrote" + " x" * 30 + ":\n") * 100,
    ],
    ids=["long_on_lines", "many_schrieb", "many_from_lines", "long_inline", "many_closings",
         "many_addresses"],
)
def test_hostile_bodies_are_split_without_error(body: str) -> None:
    parsed = split_body(body)

    assert parsed.latest or parsed.quoted_history
