"""The Workspace add-on deployment descriptor: minimal scopes, the three triggers, every URL on
the deployment's host."""
from __future__ import annotations

import json

from click.testing import CliRunner

from backend import manifests
from backend.cli import cli
from tests.gmail.gmail_support import ENDPOINTS, SCOPES


def _descriptor(base_url: str = "https://replywise.example.com") -> dict:
    [artifact] = manifests.gmail_deployment(manifests.deployment(base_url))
    assert artifact.name == "gmail-deployment.json"
    return json.loads(artifact.content)


def _strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def test_descriptor_asks_for_exactly_the_four_minimal_scopes():
    assert _descriptor()["oauthScopes"] == list(SCOPES)


def test_descriptor_has_homepage_message_and_compose_triggers_on_the_host():
    add_ons = _descriptor("https://mail.example.org/tools/replywise/")["addOns"]
    base = "https://mail.example.org/tools/replywise"
    assert add_ons["common"]["name"] == "Replywise"
    assert add_ons["common"]["homepageTrigger"] == {"runFunction": f"{base}/gmail/homepage"}
    assert add_ons["gmail"]["contextualTriggers"] == [
        {"unconditional": {}, "onTriggerFunction": f"{base}/gmail/message"}]
    compose = add_ons["gmail"]["composeTrigger"]
    assert compose["draftAccess"] == "METADATA"
    assert compose["actions"][0]["runFunction"] == f"{base}/gmail/compose"
    assert compose["actions"][0]["label"] and compose["actions"][0]["logoUrl"].startswith(base)
    assert add_ons["httpOptions"] == {"authorizationHeader": "SYSTEM_ID_TOKEN"}


def test_every_url_in_the_descriptor_is_on_the_deployment_host_and_served():
    data = _descriptor()
    urls = [s for s in _strings(data["addOns"]) if s.startswith("http")]
    assert urls and all(u.startswith("https://replywise.example.com/") for u in urls)
    paths = {u.removeprefix("https://replywise.example.com") for u in urls}
    assert {p for p in paths if p.startswith("/gmail/")} <= set(ENDPOINTS)
    assert not any("{{" in s for s in _strings(data))


def test_replywise_manifest_writes_the_gmail_deployment_file(tmp_path):
    result = CliRunner().invoke(cli, ["manifest", "--base-url", "https://replywise.example.com",
                                      "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "gmail-deployment.json").read_text())
    assert written == _descriptor()
