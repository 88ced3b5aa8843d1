"""/healthz: the process answers. /readyz: the database answers and its schema is current."""
from __future__ import annotations

from flask import Blueprint, Flask, jsonify

from backend.services.readiness import readiness
from backend.services.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness: no dependencies checked, so a slow database never restarts healthy workers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Readiness: the load balancer sends traffic only when the database is usable."""
    ready, report = readiness(runtime())
    return jsonify(report), 200 if ready else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
