"""Provider policy (data residency): a tenant's data only reaches the providers it allows, and
failover never leaves that list; with nothing allowed the offline drafter answers."""
from __future__ import annotations

import pytest

from tests.conftest import local_headers
from tests.fakes.openai_server import Behaviour
from tests.web.drafting_support import draft_body, fake_provider

T = "residency-co"
H = local_headers(T, "admin")


@pytest.fixture
def app(make_app, openai_server):
    """Two providers on the one recording server, told apart by the model each sends."""
    return make_app(providers=(fake_provider(openai_server, name="us-openai", model="model-us",
                                             region="US"),
                               fake_provider(openai_server, name="eu-azure", model="model-eu",
                                             region="EU")),
                    max_attempts_per_provider=2)


def _set_policy(client, policy: dict) -> None:
    response = client.put("/api/v1/admin/policy", json={"policy": policy}, headers=H)
    assert response.status_code == 200, response.get_json()


def _models_called(openai_server) -> list[str]:
    return [r.body["model"] for r in openai_server.requests]


def test_without_a_policy_the_chain_fails_over_across_every_provider(client, openai_server):
    openai_server.script(Behaviour.error(500), Behaviour.error(500), Behaviour.ok("From EU."))
    draft = client.post("/api/v1/drafts", json=draft_body(), headers=H).get_json()
    assert draft["provider"] == "eu-azure" and draft["failovers"] == 1
    assert _models_called(openai_server) == ["model-us", "model-us", "model-eu"]


@pytest.mark.parametrize("policy", [{"regions": ["EU"]}, {"allow": ["eu-azure"]},
                                    {"models": ["model-eu"]}],
                         ids=["by-region", "by-name", "by-model"])
def test_only_the_allowed_provider_receives_the_tenants_data(client, openai_server, policy):
    _set_policy(client, {"providers": policy})
    openai_server.script(Behaviour.ok("Hello from the EU."))
    draft = client.post("/api/v1/drafts", json=draft_body(), headers=H).get_json()
    assert draft["provider"] == "eu-azure" and draft["text"] == "Hello from the EU."
    assert _models_called(openai_server) == ["model-eu"]


def test_when_the_allowed_provider_fails_the_offline_drafter_answers_not_another_region(
        client, openai_server):
    _set_policy(client, {"providers": {"regions": ["EU"]}})
    openai_server.set_default(Behaviour.error(503))
    response = client.post("/api/v1/drafts", json=draft_body(), headers=H)
    draft = response.get_json()
    assert response.status_code == 200
    assert draft["provider"] == "offline" and draft["offline_fallback"] is True
    assert "offline draft" in draft["notice"]
    assert _models_called(openai_server) == ["model-eu", "model-eu"]  # retried, never "model-us"


def test_a_streamed_draft_keeps_to_the_allowed_providers_too(client, openai_server):
    _set_policy(client, {"providers": {"allow": ["us-openai"]}})
    openai_server.set_default(Behaviour.error(500))
    response = client.post("/api/v1/drafts", json=draft_body(),
                           headers={**H, "Accept": "text/event-stream"})
    assert '"provider": "offline"' in response.get_data(as_text=True)
    assert set(_models_called(openai_server)) == {"model-us"}


def test_with_nothing_allowed_the_offline_drafter_answers_and_nothing_is_sent(client,
                                                                               openai_server):
    _set_policy(client, {"providers": {"regions": ["CH"]}})
    draft = client.post("/api/v1/drafts", json=draft_body(), headers=H).get_json()
    assert draft["provider"] == "offline" and draft["status"] == "offline"
    assert draft["text"].startswith("Dear Jane")
    assert openai_server.requests == []


def test_one_tenants_policy_does_not_restrict_another_tenant(client, openai_server):
    _set_policy(client, {"providers": {"regions": ["EU"]}})
    openai_server.script(Behaviour.ok("EU answer."), Behaviour.ok("US answer."))
    client.post("/api/v1/drafts", json=draft_body(), headers=H)
    other = client.post("/api/v1/drafts", json=draft_body(),
                        headers=local_headers("other-co", "someone")).get_json()
    assert other["provider"] == "us-openai"
    assert _models_called(openai_server) == ["model-eu", "model-us"]


@pytest.mark.parametrize("policy, field_text", [
    ({"providers": {"regions": "EU"}}, "providers.regions must be a list of strings"),
    ({"providers": {"countries": ["EU"]}}, "unknown providers field(s): countries"),
    ({"providers": ["eu-azure"]}, "providers must be an object"),
])
def test_a_malformed_provider_policy_is_refused_naming_the_field(client, policy, field_text):
    response = client.put("/api/v1/admin/policy", json={"policy": policy}, headers=H)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == "policy" and field_text in error["message"]
