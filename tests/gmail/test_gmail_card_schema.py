"""The card schema check itself: it must catch what Google would reject."""
from __future__ import annotations

import copy

from backend.web import gmail_cards as cards
from tests.gmail import card_schema


def _message_answer():
    return cards.push(cards.message_card("https://replywise.test", sender="Jane <j@x.example>",
                                         subject="Hello", message_id="abc", thread_id="def"))


def _first_card(answer):
    return answer["renderActions"]["action"]["navigations"][0]["pushCard"]


def test_the_card_schema_comes_from_the_chat_discovery_document():
    schemas = card_schema.discovery_document()["schemas"]
    assert "GoogleAppsCardV1Card" in schemas
    assert "DROPDOWN" in schemas["GoogleAppsCardV1SelectionInput"]["properties"]["type"]["enum"]


def test_every_builder_produces_answers_inside_the_schema():
    choices = cards.Choices(tone="formal", instructions="Be brief")
    answers = [
        _message_answer(),
        cards.push(cards.homepage_card(name="Sam <b>", drafts_today=1, drafts_this_month=3,
                                       remaining=None, monthly_limit=None)),
        cards.push(cards.homepage_card(name=None, drafts_today=1, drafts_this_month=3,
                                       remaining=7, monthly_limit=10)),
        cards.push(cards.compose_card("https://replywise.test")),
        cards.update(cards.draft_card("https://replywise.test", text="Hi\n\nBye", notice="n",
                                      mode="read", message_id="a", thread_id="b",
                                      choices=choices)),
        cards.push(cards.draft_card("https://replywise.test", text="Hi", notice=None,
                                    mode="compose", message_id=None, thread_id=None,
                                    choices=choices)),
        cards.push(cards.not_enrolled_card("other.example")),
        cards.push(cards.error_card("No <luck>")),
        cards.insert_html("<p>x</p>"), cards.open_created_draft("r1", "abc"),
        cards.request_scopes(["https://www.googleapis.com/auth/gmail.addons.execute"]),
    ]
    for answer in answers:
        assert card_schema.errors(answer) == []


def test_a_misspelled_field_is_caught():
    answer = _message_answer()
    _first_card(answer)["sections"][0]["widgets"][0] = {"textParagraf": {"text": "x"}}
    assert any("textParagraf" in e for e in card_schema.errors(answer))


def test_a_wrong_enum_value_is_caught():
    answer = _message_answer()
    widgets = _first_card(answer)["sections"][1]["widgets"]
    broken = copy.deepcopy(answer)
    _first_card(broken)["sections"][1]["widgets"][0]["selectionInput"]["type"] = "Dropdown"
    assert widgets[0]["selectionInput"]["type"] == "DROPDOWN"
    assert any("'Dropdown' is not one of" in e for e in card_schema.errors(broken))
    broken = copy.deepcopy(answer)
    _first_card(broken)["sections"][1]["widgets"][3]["textInput"]["type"] = "MULTILINE"
    assert any("'MULTILINE' is not one of" in e for e in card_schema.errors(broken))


def test_a_wrong_wrapper_is_caught():
    assert card_schema.errors({"renderAction": {}})
    assert card_schema.errors({"requesting_google_scopes": {"scope": ["x"]}})
    wrong_type = cards.insert_html("<p>x</p>")
    wrong_type["renderActions"]["hostAppAction"]["gmailAction"]["updateDraftActionMarkup"][
        "updateBody"]["type"] = "INSERT_HERE"
    assert card_schema.errors(wrong_type)


def test_card_text_is_escaped_for_googles_html_subset():
    card = cards.error_card("<script>alert(1)</script> & more")
    text = card["sections"][0]["widgets"][0]["textParagraph"]["text"]
    assert text == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"


def test_every_action_url_is_absolute_on_the_configured_host():
    card = cards.draft_card("https://replywise.test/base/", text="Hi", notice=None, mode="read",
                            message_id="a", thread_id="b", choices=cards.Choices())
    functions = [b["onClick"]["action"]["function"] for s in card["sections"]
                 for w in s["widgets"] if "buttonList" in w for b in w["buttonList"]["buttons"]]
    assert functions and all(f.startswith("https://replywise.test/base/gmail/")
                             for f in functions)
