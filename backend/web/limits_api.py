"""/api/v1/admin/limits: rate limits and token budgets (tenant_admin)."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from backend.services import limits
from backend.services.runtime import runtime
from backend.web.auth import current_principal
from backend.web.validation import json_body

bp = Blueprint("limits_api", __name__, url_prefix="/api/v1")


@bp.get("/admin/limits")
def read_limits():
    """The tenant's limits and its usage in the current windows."""
    return jsonify(limits.read_limits(runtime(), current_principal()))


@bp.put("/admin/limits")
def write_limits():
    """Replace the tenant's limits."""
    principal = current_principal()
    body = json_body(request, "LimitsDocument")
    return jsonify(limits.write_limits(runtime(), principal, body["limits"]))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
