"""/api/v1 governance routes: who am I, users and roles, policy, audit trail, privacy."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from backend.errors import InvalidField
from backend.services import accounts, audit_review, privacy, tenants
from backend.services.runtime import runtime
from backend.web.auth import current_principal
from backend.web.validation import json_body

bp = Blueprint("governance_api", __name__, url_prefix="/api/v1")


@bp.get("/me")
def me():
    """The caller's identity, tenant and roles."""
    p = current_principal()
    return jsonify({"user_id": p.user_id, "tenant_id": p.tenant_id, "idp": p.idp,
                    "subject": p.subject, "roles": sorted(p.roles),
                    "identity": "local" if p.is_local else "token"})


@bp.get("/admin/users")
def list_users():
    """Users of the tenant and their roles (tenant_admin)."""
    return jsonify({"users": accounts.list_users(runtime(), current_principal())})


@bp.post("/admin/users/<user_id>/roles")
def grant_role(user_id: str):
    """Grant a role; separation-of-duties conflicts get 409 (tenant_admin)."""
    principal = current_principal()
    body = json_body(request, "RoleGrantRequest")
    roles = accounts.grant_role(runtime(), principal, user_id, body["role"])
    return jsonify({"user_id": user_id, "roles": roles})


@bp.delete("/admin/users/<user_id>/roles/<role>")
def revoke_role(user_id: str, role: str):
    """Revoke a role (tenant_admin)."""
    roles = accounts.revoke_role(runtime(), current_principal(), user_id, role)
    return jsonify({"user_id": user_id, "roles": roles})


@bp.get("/admin/policy")
def read_policy():
    """The tenant's governance policy (tenant_admin)."""
    return jsonify({"policy": tenants.read_policy(runtime(), current_principal())})


@bp.put("/admin/policy")
def write_policy():
    """Replace the tenant's governance policy (tenant_admin)."""
    principal = current_principal()
    body = json_body(request, "PolicyDocument")
    return jsonify({"policy": tenants.write_policy(runtime(), principal, body["policy"])})


@bp.get("/audit/events")
def audit_events():
    """A page of the audit trail in chain order (auditor)."""
    principal = current_principal()
    after = _int_arg("after_seq", 0, 0, 2**62)
    limit = _int_arg("limit", 100, 1, 1000)
    return jsonify({"events": audit_review.list_events(runtime(), principal, after_seq=after,
                                                       limit=limit)})


@bp.get("/audit/verify")
def audit_verify():
    """Verify the tenant's hash chain (auditor)."""
    return jsonify(audit_review.verify(runtime(), current_principal()))


@bp.get("/privacy/export")
def privacy_export():
    """Everything held about the caller, or about `user_id` (privacy_officer)."""
    principal = current_principal()
    return jsonify(privacy.export(runtime(), principal, request.args.get("user_id")))


@bp.post("/privacy/erasure")
def privacy_erasure():
    """Erase a person's stored data (privacy_officer)."""
    principal = current_principal()
    body = json_body(request, "ErasureRequest")
    return jsonify(privacy.erase(runtime(), principal, body["user_id"]))


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidField(name, f"'{name}' must be an integer.") from None
    if not low <= value <= high:
        raise InvalidField(name, f"'{name}' must be between {low} and {high}.")
    return value


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
