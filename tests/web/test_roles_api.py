"""Roles: separation of duties, 403 + audit for every denied route, grant/revoke, the users CLI."""
from __future__ import annotations

import json

import pytest

from backend.governance.rbac import PERMISSIONS, ROLES
from tests.conftest import local_headers
from tests.web.drafting_support import draft_body
from tests.web.governance_support import api_routes, audit_rows, me, set_roles

T = "roles-co"

# (rule, method) -> the permission it needs, and how to call it for the tenant's user "target".
GATED = {
    ("/api/v1/drafts", "POST"): ("draft.create", "POST", "/api/v1/drafts", draft_body()),
    ("/api/v1/drafts/<draft_id>/feedback", "POST"): (
        "draft.feedback", "POST", "/api/v1/drafts/{draft}/feedback", {"rating": 1}),
    ("/api/v1/admin/users", "GET"): ("users.manage", "GET", "/api/v1/admin/users", None),
    ("/api/v1/admin/users/<user_id>/roles", "POST"): (
        "users.manage", "POST", "/api/v1/admin/users/{target}/roles", {"role": "analyst"}),
    ("/api/v1/admin/users/<user_id>/roles/<role>", "DELETE"): (
        "users.manage", "DELETE", "/api/v1/admin/users/{target}/roles/drafter", None),
    ("/api/v1/admin/policy", "GET"): ("policy.read", "GET", "/api/v1/admin/policy", None),
    ("/api/v1/admin/policy", "PUT"): (
        "policy.write", "PUT", "/api/v1/admin/policy", {"policy": {"retention_days": 5}}),
    ("/api/v1/admin/limits", "GET"): ("limits.manage", "GET", "/api/v1/admin/limits", None),
    ("/api/v1/admin/kb/documents", "GET"): (
        "kb.manage", "GET", "/api/v1/admin/kb/documents", None),
    ("/api/v1/admin/kb/documents", "POST"): (
        "kb.manage", "POST", "/api/v1/admin/kb/documents", {}),
    ("/api/v1/admin/kb/documents/<document_id>", "DELETE"): (
        "kb.manage", "DELETE", "/api/v1/admin/kb/documents/1", None),
    ("/api/v1/admin/limits", "PUT"): (
        "limits.manage", "PUT", "/api/v1/admin/limits", {"limits": []}),
    ("/api/v1/audit/events", "GET"): ("audit.read", "GET", "/api/v1/audit/events", None),
    ("/api/v1/audit/verify", "GET"): ("audit.verify", "GET", "/api/v1/audit/verify", None),
    ("/api/v1/privacy/export", "GET"): (
        "privacy.export_any", "GET", "/api/v1/privacy/export?user_id={target}", None),
    ("/api/v1/privacy/erasure", "POST"): (
        "privacy.erase", "POST", "/api/v1/privacy/erasure", {"user_id": "{target}"}),
}
# Routes anyone signed in may call, and why.
OPEN = {
    ("/api/v1/me",  "GET"): "everyone may see who they are",
    ("/api/v1/openapi.json", "GET"): "the public API description",
}


def _fill(value, ids: dict[str, str]):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture
def ids(client) -> dict[str, str]:
    """An admin, a target user with a draft, in tenant T."""
    me(client, T, "admin")
    target = me(client, T, "target")["user_id"]
    draft = client.post("/api/v1/drafts", json=draft_body(),
                        headers=local_headers(T, "target")).get_json()["id"]
    return {"target": target, "draft": draft}


def test_every_api_route_is_either_role_gated_here_or_deliberately_open(app):
    assert set(GATED) | set(OPEN) == api_routes(app)
    assert not set(GATED) & set(OPEN)
    assert {permission for permission, *_ in GATED.values()} <= set(PERMISSIONS)


@pytest.mark.parametrize("route", sorted(GATED), ids=lambda r: f"{r[1]} {r[0]}")
def test_a_user_lacking_the_role_gets_403_json_and_an_access_denied_event(client, rt, ids,
                                                                          route):
    permission, method, path, body = GATED[route]
    # The caller holds every role that does NOT grant this permission (tenant_admin and auditor
    # never together), so only the missing role can explain the refusal.
    others = ROLES - PERMISSIONS[permission]
    if {"tenant_admin", "auditor"} <= others:
        others -= {"auditor"} if "audit" not in permission else {"tenant_admin"}
    set_roles(client, T, "admin", "caller", others)
    before = len(audit_rows(rt, T, "access.denied"))
    response = client.open(_fill(path, ids), method=method, json=_fill(body, ids),
                           headers=local_headers(T, "caller"))
    assert response.status_code == 403
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == "forbidden" and error["action"] == permission
    assert error["request_id"] == response.headers["X-Request-Id"]
    denied = audit_rows(rt, T, "access.denied")
    assert len(denied) == before + 1
    event = denied[-1]
    assert event.result == "denied"
    assert event.details == {"action": permission, "path": _fill(path, ids).split("?")[0]}
    assert event.request_id == response.headers["X-Request-Id"]
    assert sorted(event.actor_roles) == sorted(others)


def test_granting_auditor_to_a_tenant_admin_is_refused_with_409_and_audited(client, rt, ids):
    response = client.post(f"/api/v1/admin/users/{ids['target']}/roles", json={"role": "auditor"},
                           headers=local_headers(T, "admin"))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "separation_of_duties"
    assert error["role"] == "auditor" and error["conflicts_with"] == "tenant_admin"
    assert "separation of duties" in error["message"]
    assert "auditor" not in me(client, T, "target")["roles"]
    event = audit_rows(rt, T, "role.grant")[-1]
    assert event.result == "denied" and event.target_id == ids["target"]
    assert event.details == {"role": "auditor", "reason": "separation_of_duties"}


def test_granting_tenant_admin_to_an_auditor_is_refused_too(client, rt, ids):
    auditor = set_roles(client, T, "admin", "aud", {"auditor"})
    response = client.post(f"/api/v1/admin/users/{auditor}/roles", json={"role": "tenant_admin"},
                           headers=local_headers(T, "admin"))
    assert response.status_code == 409
    assert response.get_json()["error"]["conflicts_with"] == "auditor"
    assert me(client, T, "aud")["roles"] == ["auditor"]
    assert audit_rows(rt, T, "role.grant")[-1].result == "denied"


def test_an_admin_cannot_make_themself_auditor(client, rt, ids):
    admin = me(client, T, "admin")["user_id"]
    response = client.post(f"/api/v1/admin/users/{admin}/roles", json={"role": "auditor"},
                           headers=local_headers(T, "admin"))
    assert response.status_code == 409
    assert "auditor" not in me(client, T, "admin")["roles"]


def test_grant_and_revoke_change_access_at_once_and_are_audited(client, rt, ids):
    target, headers = ids["target"], local_headers(T, "admin")
    revoked = client.delete(f"/api/v1/admin/users/{target}/roles/drafter", headers=headers)
    assert revoked.status_code == 200
    assert revoked.get_json() == {"user_id": target,
                                  "roles": ["analyst", "privacy_officer", "tenant_admin"]}
    assert client.post("/api/v1/drafts", json=draft_body(),
                       headers=local_headers(T, "target")).status_code == 403
    granted = client.post(f"/api/v1/admin/users/{target}/roles", json={"role": "drafter"},
                          headers=headers)
    assert granted.status_code == 200 and "drafter" in granted.get_json()["roles"]
    assert client.post("/api/v1/drafts", json=draft_body(),
                       headers=local_headers(T, "target")).status_code == 200
    listed = {u["id"]: u["roles"] for u in
              client.get("/api/v1/admin/users", headers=headers).get_json()["users"]}
    assert listed[target] == ["analyst", "drafter", "privacy_officer", "tenant_admin"]
    events = [e for e in audit_rows(rt, T) if e.action in ("role.grant", "role.revoke")]
    assert [(e.action, e.details["role"], e.result, e.target_id) for e in events] == [
        ("role.revoke", "drafter", "success", target), ("role.grant", "drafter", "success", target)]
    admin_events = {e.actor for e in events}
    assert len(admin_events) == 1 and admin_events.pop().startswith("ps_")


def test_revoking_an_unknown_role_is_404_and_leaves_no_audit_event(client, rt, ids):
    before = len(audit_rows(rt, T))
    for role in ("superuser", "x" * 300):
        response = client.delete(f"/api/v1/admin/users/{ids['target']}/roles/{role}",
                                 headers=local_headers(T, "admin"))
        assert response.status_code == 404, response.get_json()
        assert response.get_json()["error"]["code"] == "not_found"
    assert len(audit_rows(rt, T)) == before


def test_granting_an_unknown_role_is_400_naming_the_field(client, ids):
    response = client.post(f"/api/v1/admin/users/{ids['target']}/roles", json={"role": "root"},
                           headers=local_headers(T, "admin"))
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "role"


def test_roles_of_a_user_of_no_tenant_are_not_found(client, ids):
    response = client.post("/api/v1/admin/users/doesnotexist/roles", json={"role": "analyst"},
                           headers=local_headers(T, "admin"))
    assert response.status_code == 404


# --- the CLI ------------------------------------------------------------------------------

def test_cli_users_list_grant_and_revoke(client, rt, run_cli, ids):
    listed = run_cli("users", "list", "--tenant", T)
    assert listed.exit_code == 0, listed.output
    users = {u["subject"]: u for u in json.loads(listed.stdout)}
    assert set(users) == {"admin", "target"}
    assert users["target"]["roles"] == ["analyst", "drafter", "privacy_officer", "tenant_admin"]

    revoked = run_cli("users", "revoke", "target", "tenant_admin", "--tenant", T)
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout) == {"user_id": ids["target"], "subject": "target",
                                          "roles": ["analyst", "drafter", "privacy_officer"]}
    granted = run_cli("users", "grant", "target", "auditor", "--tenant", T)
    assert granted.exit_code == 0, granted.output
    assert "auditor" in json.loads(granted.stdout)["roles"]

    changes = [e for e in audit_rows(rt, T) if e.action in ("role.grant", "role.revoke")]
    assert [(e.action, e.details["role"], e.result) for e in changes] == [
        ("role.revoke", "tenant_admin", "success"), ("role.grant", "auditor", "success")]
    # The terminal operator is one pseudonymous actor, distinct from any web user.
    assert len({e.actor for e in changes}) == 1


def test_cli_grant_that_breaks_separation_of_duties_fails_and_is_audited(client, rt, run_cli,
                                                                         ids):
    result = run_cli("users", "grant", "target", "auditor", "--tenant", T)
    assert result.exit_code == 1
    assert "separation of duties" in result.output
    assert audit_rows(rt, T, "role.grant")[-1].result == "denied"
    assert "auditor" not in me(client, T, "target")["roles"]


def test_cli_refuses_unknown_users_and_roles(client, run_cli, ids):
    nobody = run_cli("users", "grant", "nobody", "analyst", "--tenant", T)
    assert nobody.exit_code == 1 and "No user with subject 'nobody'" in nobody.output
    bad_role = run_cli("users", "grant", "target", "root", "--tenant", T)
    assert bad_role.exit_code == 1 and "unknown role" in bad_role.output
