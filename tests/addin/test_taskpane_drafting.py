"""The taskpane in Outlook (Office.js stand-in) against the real backend: draft, stop, insert."""
from __future__ import annotations

import json

import pytest

from tests.addin.pane_support import (draft_text, message, ready, wait_api, wait_message,
                                      wait_state)
from tests.fakes.openai_server import Behaviour
from tests.web.drafting_support import fake_provider

pytestmark = pytest.mark.browser

# Paragraphs matter: the backend holds the first paragraph back until it can strip preambles.
REPLY = ("Hi Jane,\n\nThanks for the reminder. I will send the quarterly numbers on Friday "
         "morning, together with the notes from the review. Let me know if you need anything "
         "else before then.\n\nBest regards,\nSam")


@pytest.fixture
def streaming_server(start_server, openai_server):
    """The backend drafting through the fake OpenAI server, one word every 50 ms."""
    openai_server.set_default(Behaviour.ok(REPLY, delay_between_chunks_s=0.05))
    return start_server(providers=(fake_provider(openai_server),))


@pytest.fixture
def offline_server(start_server):
    """The backend in its embedded default: the offline drafter answers at once."""
    return start_server()


def _draft(pane) -> None:
    pane.page.click("#draft-button")
    wait_state(pane, "done")


def test_draft_streams_into_the_pane_word_by_word(pane_factory, streaming_server, artifacts):
    pane = pane_factory(streaming_server).open({"mode": "read"})
    ready(pane)
    assert pane.page.text_content("#message-subject") == "Quarterly numbers"
    assert pane.page.text_content("#sender-name") == "Jane Doe"
    pane.page.click("#draft-button")
    # Sample the draft box on every animation frame until the stream ends.
    lengths = pane.page.evaluate("""() => new Promise((resolve) => {
        const seen = [];
        const tick = () => {
          seen.push(document.getElementById('draft-text').value.length);
          if (document.getElementById('app').dataset.state === 'done') resolve(seen);
          else requestAnimationFrame(tick);
        };
        tick();
    })""")
    growth = sorted(set(lengths))
    assert len(growth) >= 5, f"the text arrived in {len(growth)} steps: not streamed"
    assert lengths == sorted(lengths), "streamed text never shrinks"
    assert draft_text(pane) == REPLY
    assert pane.page.is_visible("#insert-button")
    assert pane.page.is_hidden("#stop-button")
    assert "words" in pane.page.text_content("#draft-status")
    request = json.loads(pane.api_requests("/api/v1/drafts")[0]["body"])
    assert request["surface"] == "outlook"
    assert request["message"]["message_id"] == "<quarterly-42@fabrikam.example>"
    assert request["message"]["from"] == {"email": "jane.doe@fabrikam.example", "name": "Jane Doe"}
    assert "quarterly numbers" in request["message"]["body_html"]
    assert pane.csp_violations() == []
    pane.page.wait_for_timeout(250)  # let the button's colour transition settle
    pane.page.screenshot(path=str(artifacts / "taskpane-streamed-draft.png"), full_page=True)


def test_stop_aborts_the_stream_and_keeps_the_text_so_far(pane_factory, start_server,
                                                          openai_server):
    long_reply = "Hi Jane,\n\n" + " ".join(["word"] * 200)
    openai_server.set_default(Behaviour.ok(long_reply, delay_between_chunks_s=0.05))
    server = start_server(providers=(fake_provider(openai_server),))
    pane = pane_factory(server).open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    pane.page.wait_for_function("() => document.getElementById('draft-text').value.length > 20")
    pane.page.click("#stop-button")
    wait_state(pane, "stopped")
    kept = draft_text(pane)
    pane.page.wait_for_timeout(400)
    assert draft_text(pane) == kept, "nothing arrives after Stop"
    assert 0 < len(kept) < len(long_reply)
    assert pane.page.is_hidden("#stop-button")
    assert pane.page.is_enabled("#draft-button")
    assert pane.page.is_hidden("#feedback-row"), "no rating for a draft that never finished"


def test_insert_in_read_mode_opens_reply_all_with_the_draft_html(pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read"})
    ready(pane)
    _draft(pane)
    pane.page.click("#insert-button")
    pane.page.wait_for_function("() => window.__officeCalls.some(c => "
                                "c.method === 'displayReplyAllFormAsync')")
    html = pane.calls("displayReplyAllFormAsync")[0]["args"][0]["htmlBody"]
    assert html.startswith("<p>Dear Jane")
    assert "[your answer]" in html
    assert "reply is open" in wait_message(pane, "reply is open")
    feedback = wait_api(pane, "/feedback")
    assert feedback and feedback[0]["status"] == 201
    body = json.loads(feedback[0]["body"])
    assert body["action"] == "inserted" and body["final_text"].startswith("Dear Jane")


def test_a_refused_reply_form_falls_back_to_the_clipboard(pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read", "failReplyForm": True})
    ready(pane)
    _draft(pane)
    pane.page.click("#insert-button")
    pane.page.wait_for_function("() => !document.getElementById('message-bar').hidden")
    assert "on your clipboard" in message(pane)
    assert pane.page.evaluate("navigator.clipboard.readText()") == draft_text(pane)


def test_providers_down_give_the_offline_draft_with_its_notice(pane_factory, start_server,
                                                                openai_server):
    openai_server.set_default(Behaviour.error(500))
    server = start_server(providers=(fake_provider(openai_server),), max_attempts_per_provider=1)
    pane = pane_factory(server).open({"mode": "read"})
    ready(pane)
    _draft(pane)
    assert pane.page.is_visible("#notice")
    assert "offline draft" in pane.page.text_content("#notice")
    assert draft_text(pane).startswith("Dear Jane")


def test_reply_instead_of_reply_all_when_the_user_picks_it(pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read"})
    ready(pane)
    _draft(pane)
    pane.page.check("#mode-reply")
    pane.page.click("#insert-button")
    pane.page.wait_for_function("() => window.__officeCalls.some(c => "
                                "c.method === 'displayReplyFormAsync')")
    assert pane.calls("displayReplyAllFormAsync") == []


def test_an_edited_draft_over_32_kb_goes_to_the_clipboard_and_the_user_is_told(
        pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read"})
    errors: list[str] = []
    pane.page.on("pageerror", lambda exc: errors.append(str(exc)))
    ready(pane)
    _draft(pane)
    huge = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 12
                       for i in range(120))
    assert len(huge) > 32 * 1024
    pane.page.fill("#draft-text", huge)
    pane.page.click("#insert-button")
    pane.page.wait_for_function("() => !document.getElementById('message-bar').hidden")
    forms = pane.calls("displayReplyAllFormAsync")
    assert len(forms) == 1 and len(forms[0]["args"][0]["htmlBody"]) < 1000, \
        "the reply opens with a short note, never with the oversized body"
    assert "clipboard" in message(pane)
    assert pane.page.evaluate("navigator.clipboard.readText()") == huge
    assert errors == []


def test_without_mailbox_1_9_the_synchronous_reply_form_is_used(pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read", "sets": {"Mailbox": "1.5"}})
    ready(pane)
    _draft(pane)
    pane.page.click("#insert-button")
    pane.page.wait_for_function("() => window.__officeCalls.some(c => "
                                "c.method === 'displayReplyAllForm')")
    assert pane.calls("displayReplyAllForm")[0]["args"][0]["htmlBody"].startswith("<p>Dear")
    assert pane.calls("displayReplyAllFormAsync") == []


@pytest.mark.parametrize("body_type", ["html", "text"])
def test_compose_mode_inserts_at_the_cursor_with_the_body_coercion_type(
        pane_factory, offline_server, body_type):
    pane = pane_factory(offline_server).open({"mode": "compose", "bodyType": body_type})
    ready(pane)
    assert pane.page.text_content("#sender-name") == "To Sam Lee"
    assert pane.calls("body.getAsync")[0]["args"][1] == {"bodyMode": 1}
    _draft(pane)
    pane.page.click("#insert-button")
    pane.page.wait_for_function("() => window.__officeCalls.some(c => "
                                "c.method === 'body.setSelectedDataAsync')")
    assert pane.calls("body.getTypeAsync")
    data, options = pane.calls("body.setSelectedDataAsync")[0]["args"]
    assert options == {"coercionType": body_type}
    if body_type == "html":
        assert data.startswith("<p>")
    else:
        assert "<p>" not in data and data == draft_text(pane)
    assert "Inserted at the cursor" in wait_message(pane, "Inserted at the cursor")


def test_compose_mode_falls_back_to_prepend_when_there_is_no_cursor(pane_factory,
                                                                    offline_server):
    pane = pane_factory(offline_server).open({"mode": "compose", "failSetSelectedData": True})
    ready(pane)
    _draft(pane)
    pane.page.click("#insert-button")
    pane.page.wait_for_function("() => window.__officeCalls.some(c => "
                                "c.method === 'body.prependAsync')")
    assert "top of your message" in wait_message(pane, "top of your message")


def test_item_changed_resets_the_pane_and_handles_no_selection(pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read"})
    ready(pane)
    assert pane.calls("mailbox.addHandlerAsync")[0]["args"] == ["olkItemSelectedChanged"]
    _draft(pane)
    pane.page.evaluate("window.__officeSelect({subject: 'Offsite agenda', from: "
                       "{displayName: 'Aiko Tanaka', emailAddress: 'aiko@contoso.example'}})")
    pane.page.wait_for_function("() => document.getElementById('message-subject').textContent"
                                " === 'Offsite agenda'")
    wait_state(pane, "ready")
    assert pane.page.is_hidden("#draft-section")
    assert draft_text(pane) == ""
    assert pane.page.text_content("#sender-name") == "Aiko Tanaka"
    pane.page.evaluate("window.__officeSelect(null)")
    wait_state(pane, "empty")
    assert pane.page.is_visible("#empty-state")
    assert pane.page.is_hidden("#draft-form")


def test_item_changed_while_streaming_stops_the_old_draft(pane_factory, streaming_server):
    pane = pane_factory(streaming_server).open({"mode": "read"})
    ready(pane)
    pane.page.click("#draft-button")
    pane.page.wait_for_function("() => document.getElementById('draft-text').value.length > 5")
    pane.page.evaluate("window.__officeSelect({subject: 'Another message'})")
    wait_state(pane, "ready")
    pane.page.wait_for_timeout(300)
    assert draft_text(pane) == "", "the old stream writes nothing into the new item's pane"


def test_thumbs_post_a_rating_and_show_which_is_pressed(pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read"})
    ready(pane)
    _draft(pane)
    pane.page.click("#thumb-up")
    assert pane.page.get_attribute("#thumb-up", "aria-pressed") == "true"
    assert pane.page.get_attribute("#thumb-down", "aria-pressed") == "false"
    feedback = wait_api(pane, "/feedback")
    assert [json.loads(f["body"]) for f in feedback] == [{"rating": 1}]
    assert feedback[0]["status"] == 201


def test_refine_sends_the_edited_draft_as_previous_draft(pane_factory, offline_server):
    pane = pane_factory(offline_server).open({"mode": "read"})
    ready(pane)
    _draft(pane)
    pane.page.fill("#draft-text", "Dear Jane,\n\nYes, Friday works.\n\nSam")
    pane.page.click("#refine-shorter")
    bodies = [json.loads(r["body"]) for r in wait_api(pane, "/api/v1/drafts", count=2)]
    wait_state(pane, "done")
    options = bodies[-1]["options"]
    assert options["refine"] == "shorter"
    assert options["previous_draft"] == "Dear Jane,\n\nYes, Friday works.\n\nSam"
