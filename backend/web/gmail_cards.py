"""Card JSON for the Gmail add-on (Google's GoogleAppsCardV1Card), built by pure functions.

Field names and enum values follow Google's card schema exactly; a test validates every card the
endpoints produce against the schema from the Chat API discovery document. Every action URL is
absolute: Google calls it as given. Text shown in textParagraph widgets is HTML-escaped, since
Google renders a small HTML subset there.
"""
from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.drafting.model import Length, Tone
from backend.drafting.prompt import LANGUAGE_NAMES

Card = dict[str, Any]
Response = dict[str, Any]

TITLE = "Replywise"
TONES = ((Tone.NEUTRAL, "Neutral"), (Tone.FORMAL, "Formal"), (Tone.FRIENDLY, "Friendly"),
         (Tone.DIRECT, "Direct"))
LENGTHS = ((Length.SHORT, "Short"), (Length.MEDIUM, "Medium"), (Length.LONG, "Long"))
AUTO_LANGUAGE = "auto"
LANGUAGES = ((AUTO_LANGUAGE, "Same as the message"),) + tuple(sorted(
    ((code, name) for code, name in LANGUAGE_NAMES.items() if code != "nb"),
    key=lambda item: item[1]))
# Button parameters are strings that travel with the card; a draft is bounded by the output
# token limit (a few KB), instructions by this.
MAX_INSTRUCTIONS = 2000
MAX_PARAMETER = 20_000


@dataclass(frozen=True)
class Choices:
    """The user's drafting choices, as shown in (and read back from) the controls."""

    tone: str = Tone.NEUTRAL.value
    length: str = Length.MEDIUM.value
    language: str = AUTO_LANGUAGE
    instructions: str = ""

    def parameters(self) -> dict[str, str]:
        return {"tone": self.tone, "length": self.length, "language": self.language,
                "instructions": self.instructions[:MAX_INSTRUCTIONS]}


# --- responses ---------------------------------------------------------------------------------


def push(card: Card) -> Response:
    """Show a card on top of the stack."""
    return {"renderActions": {"action": {"navigations": [{"pushCard": card}]}}}


def update(card: Card) -> Response:
    """Replace the card on top of the stack."""
    return {"renderActions": {"action": {"navigations": [{"updateCard": card}]}}}


def open_created_draft(draft_id: str, thread_id: str) -> Response:
    """Open a draft just created through the Gmail API."""
    return {"renderActions": {"hostAppAction": {"gmailAction": {"openCreatedDraftActionMarkup": {
        "draftId": draft_id, "draftThreadId": thread_id}}}}}


def insert_html(content: str) -> Response:
    """Insert HTML at the cursor of the draft being composed."""
    return {"renderActions": {"hostAppAction": {"gmailAction": {"updateDraftActionMarkup": {
        "updateBody": {"insertContents": [{"content": content, "contentType": "MUTABLE_HTML"}],
                       "type": "IN_PLACE_INSERT"}}}}}}


def request_scopes(scopes: list[str]) -> Response:
    """Ask Google to show the consent screen for these scopes, then repeat the action."""
    return {"requesting_google_scopes": {"scopes": list(scopes)}}


# --- cards -------------------------------------------------------------------------------------


def homepage_card(*, name: str | None, drafts_today: int, drafts_this_month: int,
                  remaining: int | None, monthly_limit: int | None) -> Card:
    """What Replywise does, and the user's usage and budget."""
    if monthly_limit is None:
        budget = "No budget set."
    else:
        budget = f"{remaining:,} of your {monthly_limit:,} tokens left this month."
    hello = f"Hello {_text(name)}. " if name else ""
    return _card("Reply drafts in your own words", [
        {"widgets": [_paragraph(
            f"{hello}Open a message and Replywise drafts a reply in your tone, length and "
            "language. You review it, refine it, and open it as a reply in the thread; while "
            "composing, insert it at the cursor. Nothing is sent without you.")]},
        {"header": "Your usage", "widgets": [
            _paragraph(f"Drafts today: <b>{drafts_today}</b><br>"
                       f"Drafts this month: <b>{drafts_this_month}</b>"),
            _paragraph(budget)]},
    ])


def message_card(base_url: str, *, sender: str, subject: str, message_id: str,
                 thread_id: str, choices: Choices = Choices()) -> Card:
    """The opened message: who and what, the controls, and Draft reply."""
    ids = {"message_id": message_id, "thread_id": thread_id, "mode": "read"}
    return _card("Draft a reply", [
        {"widgets": [_paragraph(f"<b>From:</b> {_text(sender) or '(unknown sender)'}<br>"
                                f"<b>Subject:</b> {_text(subject) or '(no subject)'}")]},
        {"header": "Your reply", "widgets": [
            *_controls(choices),
            _buttons([_button("Draft reply", _url(base_url, "/gmail/draft"), ids)])]},
    ])


def compose_card(base_url: str, *, message_id: str | None = None, thread_id: str | None = None,
                 choices: Choices = Choices()) -> Card:
    """The compose window: the same controls, Draft (to preview) and Insert (straight in)."""
    ids = {"mode": "compose", **_ids(message_id, thread_id)}
    hint = ("Replywise drafts a reply to the message you are answering." if message_id else
            "Say what the email should say in the instructions box.")
    return _card("Draft this email", [
        {"widgets": [_paragraph(hint)]},
        {"header": "Your email", "widgets": [
            *_controls(choices),
            _buttons([_button("Draft", _url(base_url, "/gmail/draft"), ids),
                      _button("Insert", _url(base_url, "/gmail/insert"), ids)])]},
    ])


def draft_card(base_url: str, *, text: str, notice: str | None, mode: str,
               message_id: str | None, thread_id: str | None, choices: Choices,
               sources: tuple[str, ...] = ()) -> Card:
    """The draft, with Regenerate, refinements and Open as reply (read) or Insert (compose)."""
    base = {"mode": mode, "view": "draft", **_ids(message_id, thread_id), **choices.parameters()}
    with_draft = {**base, "draft": text[:MAX_PARAMETER]}
    widgets: list[dict[str, Any]] = []
    if notice:
        widgets.append(_paragraph(f"<b>Note:</b> {_text(notice)}"))
    widgets.append(_paragraph(_text(text).replace("\n", "<br>")))
    if sources:  # the company documents the draft cites, "[n] document, p. page"
        widgets.append(_paragraph("<b>Sources</b><br>" + "<br>".join(_text(s) for s in sources)))
    draft_url = _url(base_url, "/gmail/draft")
    final = (_button("Open as reply", _url(base_url, "/gmail/open-reply"), with_draft)
             if mode == "read" else _button("Insert", _url(base_url, "/gmail/insert"), with_draft))
    return _card("Your draft", [
        {"widgets": widgets},
        {"widgets": [
            _buttons([final, _button("Regenerate", draft_url, base)]),
            _buttons([_button(label, draft_url, {**with_draft, "refine": refine})
                      for refine, label in (("shorter", "Shorter"), ("longer", "Longer"),
                                            ("more_formal", "More formal"))])]},
    ])


def not_enrolled_card(domain: str | None) -> Card:
    """A genuine Google user whose organisation has not enrolled its domain."""
    who = (f"Your organisation's domain, {_text(domain)}, is not enrolled" if domain else
           "Personal Google accounts are not enrolled")
    return _card("Not enrolled yet", [{"widgets": [_paragraph(
        f"{who} in this Replywise. Ask your administrator to enrol the domain; until then "
        "Replywise cannot draft replies for you.")]}])


def error_card(message: str) -> Card:
    """A problem, said plainly, with nothing the user must decode."""
    return _card("Something went wrong", [{"widgets": [_paragraph(_text(message))]}])


# --- widgets -----------------------------------------------------------------------------------


def _card(subtitle: str, sections: list[dict[str, Any]]) -> Card:
    return {"header": {"title": TITLE, "subtitle": subtitle}, "sections": sections}


def _paragraph(text: str) -> dict[str, Any]:
    return {"textParagraph": {"text": text}}


def _controls(choices: Choices) -> list[dict[str, Any]]:
    return [
        _dropdown("tone", "Tone", TONES, choices.tone),
        _dropdown("length", "Length", LENGTHS, choices.length),
        _dropdown("language", "Language", LANGUAGES, choices.language),
        {"textInput": {"name": "instructions", "label": "Instructions (optional)",
                       "type": "MULTIPLE_LINE", "value": choices.instructions,
                       "hintText": "For example: accept the meeting, propose Friday instead"}},
    ]


def _dropdown(name: str, label: str, options: tuple[tuple[str, str], ...],
              selected: str) -> dict[str, Any]:
    return {"selectionInput": {"name": name, "label": label, "type": "DROPDOWN", "items": [
        {"text": text, "value": str(value), "selected": str(value) == selected}
        for value, text in options]}}


def _buttons(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"buttonList": {"buttons": buttons}}


def _button(text: str, function: str, parameters: Mapping[str, str]) -> dict[str, Any]:
    return {"text": text, "onClick": {"action": {
        "function": function,
        "parameters": [{"key": k, "value": v} for k, v in parameters.items() if v]}}}


def _ids(message_id: str | None, thread_id: str | None) -> dict[str, str]:
    return {k: v for k, v in (("message_id", message_id), ("thread_id", thread_id)) if v}


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def _text(value: str | None) -> str:
    return html.escape(value or "", quote=False)
