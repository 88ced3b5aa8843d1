"""The application factory: a flat list of init_app calls, nothing else."""
from __future__ import annotations

from flask import Flask

from backend.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app for these settings (read from the environment when not given)."""
    from backend import errors, logs
    from backend.services import runtime
    from backend.web import api, auth, governance_api, health, request_context

    settings = settings or Settings.from_env()
    logs.configure(settings.log_level, settings.log_json)
    app = Flask(__name__)
    runtime.init_app(app, settings)
    errors.init_app(app)
    auth.init_app(app)
    request_context.init_app(app)
    health.init_app(app)
    api.init_app(app)
    governance_api.init_app(app)
    return app
