"""Fixtures for the Gmail add-on: an app configured for Google, Google's certs and the Gmail API
through `responses`, an enrolled tenant, and a client that checks every answer's cards."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from backend.governance.identity import Principal
from backend.services import tenant_domains
from tests.gmail import card_schema
from tests.gmail.gmail_support import (BASE_URL, CERTS_URL, DOMAIN, TENANT, google_settings,
                                       jwks, sign, system_claims, user_claims)


@pytest.fixture
def google() -> Iterator[responses.RequestsMock]:
    """Every `requests` call of the test: Google's JWKS is served; Gmail calls are added by
    the test. Anything unregistered fails the call (nothing reaches the internet)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(CERTS_URL, json=jwks(), headers={"Cache-Control": "public, max-age=19000"})
        yield mock


@pytest.fixture
def gmail_app(make_app, google):
    """An app serving the Gmail add-on, with acme.example enrolled as tenant "acme"."""
    def build(**changes: Any):
        app = make_app(**google_settings(**changes))
        enroll(app.extensions["replywise"], DOMAIN, TENANT)
        return app
    return build


def enroll(rt, domain: str, tenant: str) -> None:
    operator = Principal(idp="cli", tenant_id=tenant, subject="operator",
                         roles=frozenset({"tenant_admin"}))
    tenant_domains.enroll_domain(rt, operator, domain, tenant)


class AddonClient:
    """Posts event objects the way Google does and checks every card answer against the schema."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()
        self.answers: list[dict[str, Any]] = []

    def post(self, path: str, body: dict[str, Any], *, token: str | None | bool = True,
             **user: Any):
        """POST `body` to `path` with a system token addressed to that URL (or `token`)."""
        if token is True:
            token = sign(system_claims(BASE_URL + path))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.client.post(path, json=body, headers=headers)
        if response.status_code == 200:
            answer = response.get_json()
            problems = card_schema.errors(answer)
            assert not problems, f"{path} answered outside Google's card schema: {problems}"
            self.answers.append(answer)
        return response


@pytest.fixture
def addon(gmail_app) -> Callable[..., AddonClient]:
    """addon(**settings) -> a client of an app configured for the Gmail add-on."""
    return lambda **changes: AddonClient(gmail_app(**changes))


@pytest.fixture
def user_token() -> Callable[..., str]:
    """user_token(**claims) -> a userIdToken for sam@acme.example (claims changed as given)."""
    return lambda **changes: sign(user_claims(**changes))
