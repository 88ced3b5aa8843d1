"""/healthz and /readyz."""
from __future__ import annotations

from backend.app import create_app


def test_healthz_answers_without_touching_the_database(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_readyz_reports_a_current_schema(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "reachable"


def test_readyz_is_503_until_migrations_run(settings, tmp_path):
    fresh = settings.with_overrides(database_url=f"sqlite:///{tmp_path / 'new.db'}")
    app = create_app(fresh)
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["migrations"]["current"] is None
        assert "replywise db upgrade" in response.get_json()["migrations"]["hint"]
    finally:
        app.extensions["replywise"].close()


def test_readyz_is_503_when_the_database_is_unreachable(settings):
    down = settings.with_overrides(database_url="postgresql://nobody@127.0.0.1:1/none")
    app = create_app(down)
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "database": "unreachable"}
    finally:
        app.extensions["replywise"].close()
