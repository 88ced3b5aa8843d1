"""Keyboard, screen reader, theme, narrow width, and the playground outside Outlook."""
from __future__ import annotations

import json

import pytest

from tests.addin.pane_support import DARK_THEME, draft_text, ready, wait_api, wait_state
from tests.fakes.openai_server import Behaviour
from tests.web.drafting_support import fake_provider

pytestmark = pytest.mark.browser

STREAMED = ("Hi Jane,\n\nThanks for the reminder. The quarterly numbers will be with you on "
            "Friday.\n\nBest regards,\nSam")


@pytest.fixture
def server(start_server):
    return start_server()


def _tab_through(pane, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        pane.page.keyboard.press("Tab")
        ids.append(pane.page.evaluate("document.activeElement.id"))
    return ids


def test_tab_order_reaches_every_control_in_order_and_ctrl_enter_drafts(pane_factory, server):
    pane = pane_factory(server).open({"mode": "read"})
    ready(pane)
    assert _tab_through(pane, 5) == ["tone", "length", "language", "instructions", "draft-button"]
    ring = pane.page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                              " return [s.outlineStyle, s.outlineWidth]; })()")
    assert ring == ["solid", "2px"], "keyboard focus is visible"
    pane.page.keyboard.press("Shift+Tab")
    pane.page.keyboard.type("Say yes")
    pane.page.keyboard.press("Control+Enter")
    wait_state(pane, "done")
    assert json.loads(wait_api(pane, "/api/v1/drafts")[0]["body"])["options"]["instructions"] \
        == "Say yes"
    pane.page.focus("#draft-text")
    assert _tab_through(pane, 9) == [
        "mode-reply-all", "insert-button", "copy-button", "refine-shorter", "refine-longer",
        "refine-formal", "regenerate-button", "thumb-up", "thumb-down"]


def test_every_control_has_an_accessible_name(pane_factory, server):
    pane = pane_factory(server).open({"mode": "read"})
    ready(pane)
    unnamed = pane.page.evaluate("""() => [...document.querySelectorAll(
        'button, input, select, textarea')].filter((el) => {
          // The message bar's button is named when it is shown, with its action.
          if (el.hidden) return false;
          const label = el.getAttribute('aria-label') || (el.labels && [...el.labels]
            .map((l) => l.textContent).join(' ')) || el.textContent;
          return !String(label || '').trim();
        }).map((el) => el.id || el.outerHTML.slice(0, 60))""")
    assert unnamed == []
    assert pane.page.get_attribute("#draft-live", "aria-live") == "polite"


def test_escape_stops_a_streaming_draft(pane_factory, start_server, openai_server):
    openai_server.set_default(Behaviour.ok("Hi Jane,\n\n" + "more " * 150,
                                           delay_between_chunks_s=0.05))
    pane = pane_factory(start_server(providers=(fake_provider(openai_server),)))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.focus("#instructions")
    pane.page.keyboard.press("Control+Enter")
    pane.page.wait_for_function("() => document.getElementById('draft-text').value.length > 15")
    pane.page.keyboard.press("Escape")
    wait_state(pane, "stopped")
    assert pane.page.is_hidden("#stop-button")


def test_streamed_text_is_mirrored_to_a_throttled_live_region(pane_factory, start_server,
                                                              openai_server):
    openai_server.set_default(Behaviour.ok(STREAMED, delay_between_chunks_s=0.05))
    pane = pane_factory(start_server(providers=(fake_provider(openai_server),)))
    pane.open({"mode": "read"})
    ready(pane)
    pane.page.evaluate("""() => {
        window.__announced = [];
        new MutationObserver(() => window.__announced.push(
            document.getElementById('draft-live').textContent))
          .observe(document.getElementById('draft-live'),
                   {childList: true, characterData: true, subtree: true});
    }""")
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    pane.page.wait_for_function("() => window.__announced.some(t => t.startsWith('Draft ready'))")
    announced = [t for t in pane.page.evaluate("window.__announced") if t]
    words = len(STREAMED.split())
    assert 2 <= len(announced) < words / 2, f"{len(announced)} announcements for {words} words"
    spoken = " ".join(announced)
    assert "quarterly numbers" in spoken and "Best regards" in spoken


def test_dark_office_theme_is_applied(pane_factory, server, artifacts):
    pane = pane_factory(server).open({"mode": "read", "theme": DARK_THEME})
    ready(pane)
    assert pane.page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert pane.page.evaluate("getComputedStyle(document.body).backgroundColor") \
        == "rgb(31, 31, 31)"
    color = pane.page.evaluate("getComputedStyle(document.getElementById('message-subject')).color")
    assert color == "rgb(255, 255, 255)"
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    pane.page.wait_for_timeout(250)  # let the button's colour transition settle
    pane.page.screenshot(path=str(artifacts / "taskpane-dark.png"), full_page=True)


def test_light_office_theme_stays_light_even_on_a_dark_system(pane_factory, server):
    light = {**DARK_THEME, "bodyBackgroundColor": "#ffffff", "bodyForegroundColor": "#242424"}
    pane = pane_factory(server, dark=True).open({"mode": "read", "theme": light})
    ready(pane)
    assert pane.page.evaluate("document.documentElement.dataset.theme") == "light"


def test_the_pane_fits_320_px_without_horizontal_scroll(pane_factory, server):
    long_address = "a.very.long.mailbox.name.for.testing.wrapping@subdomain.fabrikam.example"
    pane = pane_factory(server, width=320, height=700).open({"mode": "read", "item": {
        "subject": "Re: Re: Fwd: " + "Supercalifragilisticexpialidocious" * 3,
        "from": {"displayName": "Maximiliane Feodora Alexandrina Wittelsbach-Hohenzollern",
                 "emailAddress": long_address}}})
    ready(pane)
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    widths = pane.page.evaluate("[document.documentElement.scrollWidth, "
                                "document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == 320


def test_playground_without_office_shows_the_banner_and_drafts_offline(pane_factory, server,
                                                                       artifacts):
    pane = pane_factory(server).open(stub=False)
    ready(pane)
    assert pane.page.is_visible("#playground-banner")
    assert "Playground — try Replywise without Outlook" in pane.page.text_content("#playground-banner")
    options = pane.page.eval_on_selector_all("#sample-select option", "os => os.map(o => o.value)")
    assert options == ["questions", "french", "delivery", "reschedule"]
    pane.page.click("#message-body summary")
    assert "Before we sign" in pane.page.text_content("#message-body-text")
    pane.page.wait_for_timeout(250)
    pane.page.screenshot(path=str(artifacts / "playground.png"), full_page=True)
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    assert draft_text(pane).startswith("Dear Priya")
    assert "Offline draft" in pane.page.text_content("#draft-status")
    pane.page.click("#insert-button")
    pane.page.wait_for_selector("#preview-dialog[open]")
    assert "Priya Natarajan" in pane.page.text_content("#preview-to")
    assert pane.page.text_content("#preview-subject") == "RE: Questions before we sign the renewal"
    assert "Dear Priya" in pane.page.text_content("#preview-body")
    assert pane.page.is_visible("#preview-copied")
    pane.page.screenshot(path=str(artifacts / "playground-insert-preview.png"))
    assert pane.page.evaluate("navigator.clipboard.readText()") == draft_text(pane)
    pane.page.keyboard.press("Escape")
    assert pane.page.is_hidden("#preview-dialog")
    assert pane.csp_violations() == []
    assert wait_api(pane, "/feedback")[0]["status"] == 201


def test_playground_french_sample_gets_a_french_draft(pane_factory, server):
    pane = pane_factory(server).open({"host": None})  # office.js loaded, but not in Office
    ready(pane)
    assert pane.page.is_visible("#playground-banner")
    pane.page.select_option("#sample-select", "french")
    pane.page.wait_for_function("() => document.getElementById('message-subject').textContent"
                                ".includes('Atlas')")
    pane.page.click("#draft-button")
    wait_state(pane, "done")
    assert draft_text(pane).startswith("Bonjour Camille")


def test_playground_follows_a_dark_system_theme(pane_factory, server):
    pane = pane_factory(server, dark=True).open(stub=False)
    ready(pane)
    assert pane.page.evaluate("document.documentElement.dataset.theme") is None
    assert pane.page.evaluate("getComputedStyle(document.body).backgroundColor") \
        == "rgb(31, 31, 31)"
