"""The application factory: a flat list of init_app calls, nothing else."""
from __future__ import annotations

from flask import Flask

from backend.config import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app for these settings (read from the environment when not given)."""
    from backend import errors, logs
    from backend.services import runtime
    from backend.web import (api, auth, gmail, governance_api, health, limits_api, outlook,
                             request_context)

    from backend.web import admin, metrics
    from backend.web import knowledge_api

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
    knowledge_api.init_app(app)
    limits_api.init_app(app)
    outlook.init_app(app)
    gmail.init_app(app)
    metrics.init_app(app)
    admin.init_app(app)
    return app
