"""Helpers for governance tests: local users with chosen roles, reading audit rows directly."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.governance.rbac import ROLES
from backend.storage.models import AuditEvent
from tests.conftest import local_headers


def api_routes(app) -> set[tuple[str, str]]:
    """Every (rule, method) the app serves under /api/v1: what route walks must cover."""
    return {(rule.rule, method) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def me(client, tenant: str, user: str) -> dict[str, Any]:
    """GET /api/v1/me as a local user (creating the user with the local bootstrap roles)."""
    response = client.get("/api/v1/me", headers=local_headers(tenant, user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def set_roles(client, tenant: str, admin: str, user: str, roles: set[str]) -> str:
    """Make `user` hold exactly `roles`, changed through the API by `admin`; return the user id.

    Revokes come first, so a user can be turned from tenant_admin into auditor.
    """
    user_id = me(client, tenant, user)["user_id"]
    headers = local_headers(tenant, admin)
    for role in sorted(ROLES - roles):
        response = client.delete(f"/api/v1/admin/users/{user_id}/roles/{role}", headers=headers)
        assert response.status_code == 200, response.get_json()
    for role in sorted(roles):
        response = client.post(f"/api/v1/admin/users/{user_id}/roles", json={"role": role},
                               headers=headers)
        assert response.status_code == 200, response.get_json()
    assert set(me(client, tenant, user)["roles"]) == roles
    return user_id


def audit_rows(rt, tenant: str, action: str | None = None) -> list[AuditEvent]:
    """A tenant's audit events in chain order, read straight from the database."""
    with rt.db.session(tenant) as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.scalars(query))
