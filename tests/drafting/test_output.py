"""Cleaning model output and turning a draft into safe HTML."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from backend.drafting.output import clean_draft, draft_to_html

BODY = "Hi Jane,\n\nThe invoice goes out on [date].\n\nBest regards,\nBob"


@pytest.mark.parametrize("preamble", [
    "Here is a draft reply:",
    "Here's a possible reply:",
    "Sure! Here's a draft email you could send:",
    "Certainly, here is a more formal version of the reply:",
    "Of course! Below is a suggested response:",
    "I've drafted a reply for you:",
    "**Draft reply:**",
    "Voici une proposition de réponse :",
    "Bien sûr ! Voici un brouillon de réponse :",
    "Hier ist ein Entwurf:",
    "Gerne, hier ist ein Vorschlag für die Antwort:",
    "Aquí tienes un borrador de respuesta:",
    "Claro, aquí está la respuesta:",
    "Ecco una bozza di risposta:",
    "Certo! Ecco la risposta:",
    "Aqui está um rascunho da resposta:",
    "Hier is een concept-antwoord:",
])
def test_preambles_in_several_languages_are_removed(preamble):
    assert clean_draft(f"{preamble}\n\n{BODY}") == BODY
    assert clean_draft(f"{preamble}\n{BODY}") == BODY


@pytest.mark.parametrize("interjection", ["Sure!", "Certainly.", "Of course!", "Bien sûr !",
                                          "Gerne!", "¡Claro!", "Certo!"])
def test_a_bare_interjection_before_the_draft_is_removed(interjection):
    assert clean_draft(f"{interjection}\n\n{BODY}") == BODY


@pytest.mark.parametrize("subject", ["Subject: Re: Invoice", "**Subject:** Invoice",
                                     "Objet : Facture", "Betreff: Rechnung", "Asunto: Factura"])
def test_a_leading_subject_line_is_removed(subject):
    assert clean_draft(f"{subject}\n\n{BODY}") == BODY
    assert clean_draft(f"Here is the reply:\n\n{subject}\n{BODY}") == BODY


@pytest.mark.parametrize("wrapped", [
    f"```\n{BODY}\n```", f"```text\n{BODY}\n```", f'"{BODY}"', f"“{BODY}”", f"«{BODY}»",
    f"Here is a draft:\n\n```\n{BODY}\n```",
])
def test_surrounding_code_fences_and_quotes_are_removed(wrapped):
    assert clean_draft(wrapped) == BODY


def test_quotes_that_belong_to_the_text_are_kept():
    text = '"Great work" is what everyone said.\n\nWe will call it "done".'
    assert clean_draft(text) == text


@pytest.mark.parametrize("chatter", [
    "Let me know if you'd like any changes.",
    "Feel free to adjust the tone as needed.",
    "I hope this helps!",
    "Would you like me to make it shorter?",
    "N'hésitez pas à me dire si vous souhaitez des modifications.",
    "Lassen Sie mich wissen, ob Sie Änderungen wünschen.",
    "Si quieres, puedo hacerlo más formal.",
    "Fammi sapere se vuoi modifiche.",
])
def test_trailing_chatter_after_the_sign_off_is_removed(chatter):
    assert clean_draft(f"{BODY}\n\n{chatter}") == BODY


def test_trailing_talk_about_the_draft_is_removed_even_without_a_sign_off():
    assert clean_draft("Hi Jane,\n\nDone.\n\nLet me know if you want me to adjust the draft.") == (
        "Hi Jane,\n\nDone.")


def test_a_closing_sentence_of_the_reply_itself_is_kept():
    text = "Hi Jane,\n\nThe order ships Monday.\n\nLet me know if you'd like any changes to it."
    assert clean_draft(text) == text


def test_notes_after_a_rule_are_removed():
    assert clean_draft(f"{BODY}\n\n---\n\nNote: I used a placeholder for the date.") == BODY


def test_whitespace_is_normalised():
    messy = "\r\n\r\n  Hi Jane,   \r\n\r\n\r\n\r\nThe invoice goes out on [date].\t\n\n\n\n" \
            "Best regards,\r\nBob  \n\n"
    assert clean_draft(messy) == BODY


def test_a_clean_draft_is_left_alone_and_cleaning_is_idempotent():
    assert clean_draft(BODY) == BODY
    dirty = f"Sure! Here's a reply:\n\n```\n{BODY}\n```\n\nLet me know if you'd like changes."
    assert clean_draft(clean_draft(dirty)) == clean_draft(dirty) == BODY


def test_a_draft_that_starts_with_its_own_colon_line_is_kept():
    text = "Here is the information you asked for:\n- Price: [price]\n- Date: [date]"
    assert clean_draft(text) == text


@pytest.mark.parametrize("head", ["Here is a draft reply:", "Sure!", "Subject: Invoice", "---"])
def test_a_first_paragraph_that_is_only_chatter_cleans_to_nothing(head):
    # The streaming service cleans the first paragraph before the rest has arrived.
    assert clean_draft(head) == ""
    assert clean_draft(f"{head}\n\nHi Ja") == "Hi Ja"


# ---- HTML ---------------------------------------------------------------------------------

class _Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)


def inspect(markup: str) -> _Inspector:
    parser = _Inspector()
    parser.feed(markup)
    parser.close()
    return parser


def test_paragraphs_and_line_breaks():
    assert draft_to_html(BODY) == ("<p>Hi Jane,</p><p>The invoice goes out on [date].</p>"
                                   "<p>Best regards,<br>Bob</p>")


def test_bullet_lines_become_a_list():
    assert draft_to_html("Answers:\n- one\n* two\n• three\nThanks") == (
        "<p>Answers:</p><ul><li>one</li><li>two</li><li>three</li></ul><p>Thanks</p>")


def test_text_is_escaped():
    assert draft_to_html("5 < 6 & \"x\" > 'y'") == "<p>5 &lt; 6 &amp; \"x\" &gt; 'y'</p>"


@pytest.mark.parametrize("attack", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "[click](javascript:alert(1))",
    "javascript:alert(document.cookie)",
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.test></iframe>",
    "\"><script>alert(1)</script>",
    "https://ok.test/\"onmouseover=\"alert(1)",
    "**<b onclick=alert(1)>x</b>**",
])
def test_html_output_has_no_script_event_handlers_or_javascript_urls(attack):
    markup = draft_to_html(f"Hi,\n\n{attack}\n- {attack}")
    found = inspect(markup)
    assert set(found.tags) <= {"p", "br", "ul", "li", "strong", "em", "a"}
    assert "script" not in found.tags and "<script" not in markup.lower()
    for name, value in found.attributes:
        assert name in {"href", "rel"}
        if name == "href":
            assert value is not None and value.startswith(("http://", "https://", "mailto:"))


def test_links_are_made_clickable_for_allowed_schemes_only():
    markup = draft_to_html("See https://example.com/a?b=1&c=2. Or [docs](https://docs.test/x) "
                           "or mail help@example.com, not ftp://files.test/x.")
    assert ('<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer">'
            "https://example.com/a?b=1&amp;c=2</a>.") in markup
    assert '<a href="https://docs.test/x" rel="noopener noreferrer">docs</a>' in markup
    assert '<a href="mailto:help@example.com" rel="noopener noreferrer">' in markup
    assert "ftp://files.test/x" in markup and 'href="ftp' not in markup


def test_bold_and_emphasis_markers_become_tags():
    assert draft_to_html("**Important**: see *this*") == (
        "<p><strong>Important</strong>: see <em>this</em></p>")


def test_an_empty_draft_gives_empty_html():
    assert draft_to_html("  \n\n ") == ""


def test_a_snippet_inside_the_reply_keeps_its_fence():
    text = "Hi Jane,\n\nRun this:\n```\nreplywise db upgrade\n```\n\nBest,\nBob"
    assert clean_draft(text) == text
