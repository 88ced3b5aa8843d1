"""Helpers for taskpane tests: canned API answers, stand-in configs, waiting on pane states."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
MSAL_PATH = "/addin/vendor/msal-browser-4.30.0.min.js"

DARK_THEME = {"bodyBackgroundColor": "#1f1f1f", "bodyForegroundColor": "#ffffff",
              "controlBackgroundColor": "#292929", "controlForegroundColor": "#ffffff"}


def draft_payload(text: str = "Thanks, Jane. The numbers follow on Friday.", *,
                  draft_id: str = "d-fake", **extra: Any) -> dict[str, Any]:
    """A Draft object as the backend's `done` event carries it."""
    html = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
    return {"id": draft_id, "text": text, "html": html, "provider": "fake", "model": "fake",
            "status": "completed", "offline_fallback": False, "notice": None, "language": "en",
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            "cost_usd": "0", "timings": {"total_ms": 1, "ttft_ms": 1}, "attempts": 1,
            "failovers": 0, "pii": {}, "identity": "token", **extra}


def sse(*events: tuple[str, Any]) -> str:
    """An event-stream body."""
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)


def fulfil_sse(route, *events: tuple[str, Any]) -> None:
    """Answer a route with a 200 event stream."""
    route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body=sse(*events))


def fulfil_error(route, status: int, code: str, message: str = "refused",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
    """Answer a route with the JSON error envelope."""
    body = {"error": {"code": code, "message": message, "request_id": "req-test-1", **extra}}
    route.fulfill(status=status, headers={"Content-Type": "application/json", **(headers or {})},
                  body=json.dumps(body))


def use_identity_provider(pane, client_id: str = "11111111-2222-3333-4444-555555555555") -> None:
    """Make the pane believe the backend needs Entra tokens, and serve the MSAL stand-in."""
    config = {"local_mode": False, "client_id": client_id,
              "api_scope": f"api://{client_id}/access_as_user", "api_base": "/api/v1",
              "msal_url": MSAL_PATH}
    pane.page.route("**/addin/config.json", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(config)))
    source = (HERE / "msal_stub.js").read_text()
    pane.page.route(f"**{MSAL_PATH}", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=source))


def wait_state(pane, state: str, timeout: float = 10_000) -> None:
    """Wait until the pane's data-state is `state`."""
    pane.page.wait_for_function(
        "s => document.getElementById('app').dataset.state === s", arg=state, timeout=timeout)


def ready(pane) -> None:
    """Wait until an item is shown and Draft reply can be used."""
    wait_state(pane, "ready")


def draft_text(pane) -> str:
    """The text in the draft box."""
    return pane.page.input_value("#draft-text")


def message(pane) -> str:
    """The message bar's text (empty when hidden)."""
    return pane.page.evaluate(
        "(() => { const b = document.getElementById('message-bar');"
        " return b.hidden ? '' : document.getElementById('message-text').textContent; })()")


def wait_message(pane, text: str) -> str:
    """Wait until the message bar shows `text` (it is set from Office callbacks, which run
    after the call the test awaited), then return the whole message."""
    pane.page.wait_for_function(
        "(text) => { const b = document.getElementById('message-bar');"
        " return !b.hidden && document.getElementById('message-text').textContent"
        ".includes(text); }", arg=text)
    return message(pane)


def wait_api(pane, path_part: str, count: int = 1, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """Wait until `count` finished API requests match `path_part`; return them."""
    for _ in range(int(timeout_s / 0.05)):
        found = pane.api_requests(path_part)
        if len(found) >= count:
            return found
        pane.page.wait_for_timeout(50)
    raise AssertionError(f"no {count} finished request(s) to {path_part}: {pane.requests}")
