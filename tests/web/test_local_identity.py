"""Local mode (no identity provider): a local identity is trusted from loopback only, says so."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.storage.models import User
from tests.conftest import local_headers
from tests.web.drafting_support import draft_body
from tests.web.governance_support import api_routes

REMOTE = {"REMOTE_ADDR": "10.1.2.3"}
# Every route that acts for a person, as (rule, method, a concrete path, body); only the public
# OpenAPI document needs nobody.
PERSONAL_ROUTES = [
    ("/api/v1/me", "GET", "/api/v1/me", None),
    ("/api/v1/drafts", "POST", "/api/v1/drafts", draft_body()),
    ("/api/v1/drafts/<draft_id>/feedback", "POST", "/api/v1/drafts/abc/feedback", {"rating": 1}),
    ("/api/v1/admin/users", "GET", "/api/v1/admin/users", None),
    ("/api/v1/admin/policy", "GET", "/api/v1/admin/policy", None),
    ("/api/v1/admin/policy", "PUT", "/api/v1/admin/policy", {"policy": {}}),
    ("/api/v1/admin/limits", "GET", "/api/v1/admin/limits", None),
    ("/api/v1/admin/kb/documents", "GET", "/api/v1/admin/kb/documents", None),
    ("/api/v1/admin/kb/documents", "POST", "/api/v1/admin/kb/documents", {}),
    ("/api/v1/admin/kb/documents/<document_id>", "DELETE", "/api/v1/admin/kb/documents/1",
     None),
    ("/api/v1/admin/limits", "PUT", "/api/v1/admin/limits", {"limits": []}),
    ("/api/v1/admin/users/<user_id>/roles", "POST", "/api/v1/admin/users/abc/roles",
     {"role": "analyst"}),
    ("/api/v1/admin/users/<user_id>/roles/<role>", "DELETE",
     "/api/v1/admin/users/abc/roles/analyst", None),
    ("/api/v1/audit/events", "GET", "/api/v1/audit/events", None),
    ("/api/v1/audit/verify", "GET", "/api/v1/audit/verify", None),
    ("/api/v1/privacy/export", "GET", "/api/v1/privacy/export", None),
    ("/api/v1/privacy/erasure", "POST", "/api/v1/privacy/erasure", {"user_id": "x"}),
]


def _users(rt) -> int:
    with rt.db.session(all_tenants=True) as session:
        return session.scalar(select(func.count()).select_from(User))


def _assert_unauthorized(response, code: str = "unauthorized") -> None:
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"] and error["request_id"]


def test_every_personal_route_refuses_a_caller_from_another_machine(app, client, rt):
    walked = {(rule, method) for rule, method, _, _ in PERSONAL_ROUTES}
    assert walked | {("/api/v1/openapi.json", "GET")} == api_routes(app)
    for _, method, path, body in PERSONAL_ROUTES:
        response = client.open(path, method=method, json=body, headers=local_headers(),
                               environ_base=REMOTE)
        _assert_unauthorized(response, "local_mode_loopback_only")
        assert "this machine only" in response.get_json()["error"]["message"]
    assert _users(rt) == 0  # nobody was created on the way


def test_a_forwarded_for_header_cannot_make_a_remote_caller_local(client):
    response = client.get("/api/v1/me", environ_base=REMOTE,
                          headers={"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "127.0.0.1"})
    _assert_unauthorized(response, "local_mode_loopback_only")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.10.0.3", "::1"])
def test_loopback_callers_are_accepted_as_the_local_identity(client, address):
    response = client.get("/api/v1/me", headers=local_headers("acme", "jane"),
                          environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    body = response.get_json()
    assert body["identity"] == "local" and body["idp"] == "local"
    assert body["tenant_id"] == "acme" and body["subject"] == "jane"


def test_responses_say_the_identity_is_local_on_success_and_on_error(client):
    ok = client.get("/api/v1/me")
    assert ok.headers["X-Replywise-Identity"] == "local"
    assert ok.get_json()["tenant_id"] == "local" and ok.get_json()["subject"] == "local-user"
    draft = client.post("/api/v1/drafts", json=draft_body())
    assert draft.headers["X-Replywise-Identity"] == "local"
    assert draft.get_json()["identity"] == "local"
    refused = client.get("/api/v1/me", environ_base=REMOTE)
    assert refused.headers["X-Replywise-Identity"] == "local"
    missing = client.get("/api/v1/no-such-route")
    assert missing.status_code == 404 and missing.headers["X-Replywise-Identity"] == "local"


@pytest.mark.parametrize("header, value", [
    ("X-Replywise-Tenant", ""), ("X-Replywise-Tenant", "acme corp"),
    ("X-Replywise-Tenant", "a" * 65), ("X-Replywise-Tenant", "../other"),
    ("X-Replywise-User", ""), ("X-Replywise-User", "jane;drop"), ("X-Replywise-User", "j" * 65),
    ("X-Replywise-User", "jäne"),
])
def test_malformed_identity_headers_are_refused(client, rt, header, value):
    response = client.get("/api/v1/me", headers={header: value})
    _assert_unauthorized(response)
    assert header in response.get_json()["error"]["message"]
    assert _users(rt) == 0


@pytest.mark.parametrize("header", ["HTTP_X_REPLYWISE_TENANT", "HTTP_X_REPLYWISE_USER"])
def test_an_identity_header_with_a_trailing_newline_is_refused(client, rt, header):
    # `$` in a regex also matches before a final "\n"; such a name must not become a user.
    response = client.get("/api/v1/me", environ_base={header: "jane\n"})
    _assert_unauthorized(response)
    assert _users(rt) == 0


def test_longest_allowed_names_and_punctuation_are_accepted(client):
    response = client.get("/api/v1/me", headers=local_headers("t" * 64, "jane.doe@acme-1_x"))
    assert response.status_code == 200
    assert response.get_json()["subject"] == "jane.doe@acme-1_x"
