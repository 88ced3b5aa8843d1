"""The function file: handlers are associated, and every one calls event.completed()."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def _open(pane_factory, start_server):
    pane = pane_factory(start_server()).open({"mode": "read"}, page="commands.html")
    pane.page.wait_for_function("() => (window.__officeCalls || [])"
                                ".some(c => c.method === 'actions.associate')")
    return pane


def test_commands_are_associated_and_report_a_healthy_service(pane_factory, start_server):
    pane = _open(pane_factory, start_server)
    assert pane.calls("actions.associate")[0]["args"] == ["checkReplywiseConnection"]
    assert pane.page.evaluate("window.__officeInvoke('checkReplywiseConnection')") is True
    key, details = pane.calls("notificationMessages.replaceAsync")[0]["args"]
    assert details["type"] == "informationalMessage" and "ready" in details["message"]
    assert len(pane.calls("event.completed")) == 1


def test_a_failing_command_still_completes(pane_factory, start_server):
    pane = _open(pane_factory, start_server)
    pane.page.route("**/healthz", lambda route: route.abort("connectionrefused"))
    assert pane.page.evaluate("window.__officeInvoke('checkReplywiseConnection')") is True
    details = pane.calls("notificationMessages.replaceAsync")[0]["args"][1]
    assert details["type"] == "errorMessage"
    assert len(pane.calls("event.completed")) == 1
