"""Bad input always gets the JSON envelope with a clear message, never a traceback or a 500."""
from __future__ import annotations

import pytest

from tests.web.drafting_support import draft_body


def _error(response):
    body = response.get_json()
    assert body is not None, response.get_data(as_text=True)
    assert set(body) == {"error"}
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]
    return body["error"]


def test_malformed_json_is_a_400(client):
    response = client.post("/api/v1/drafts", data="{not json",
                           content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"


def test_a_json_array_is_not_a_request(client):
    response = client.post("/api/v1/drafts", json=[1, 2])
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"


@pytest.mark.parametrize("body, field", [
    ({}, "message"),
    ({"message": {"subject": 5}}, "message.subject"),
    ({"message": {"to": ["a@b.c"]}, "options": {"tone": "rude"}}, "options.tone"),
    ({"message": {}, "options": {"length": "epic"}}, "options.length"),
    ({"message": {}, "options": {"language": "French"}}, "options.language"),
    ({"message": {}, "surprise": True}, "surprise"),
    ({"message": {"from": {"name": "x"}}}, "message.from"),
    ({"message": {}, "options": {"refine": "shorter"}}, "options.previous_draft"),
    ({"message": {}, "raw_message": "eA=="}, "message"),
    ({"raw_message": "***not base64***"}, "raw_message"),
    ({"message": {"thread": [{"to": 7}]}}, "message.thread.0.to"),
])
def test_invalid_fields_are_named(client, body, field):
    response = client.post("/api/v1/drafts", json=body)
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_field"
    assert error["field"] == field
    assert field in error["message"]


def test_validation_errors_do_not_echo_the_email_content(client):
    secret = "Confidential merger plan: " + "x" * 50
    response = client.post("/api/v1/drafts", json={"message": {"body_text": [secret]}})
    assert response.status_code == 400
    assert "merger" not in response.get_data(as_text=True)


def test_body_over_the_limit_is_a_413(make_app):
    client = make_app(max_request_bytes=2048).test_client()
    body = draft_body()
    body["message"]["body_text"] = "x" * 5000
    response = client.post("/api/v1/drafts", json=body)
    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"


def test_wrong_media_type_is_a_415(client):
    response = client.post("/api/v1/drafts", data="subject=hi",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


def test_unknown_route_is_a_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405(client):
    response = client.get("/api/v1/drafts")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_feedback_validation_names_the_field(client):
    draft = client.post("/api/v1/drafts", json=draft_body()).get_json()
    response = client.post(f"/api/v1/drafts/{draft['id']}/feedback", json={"rating": 5})
    assert response.status_code == 400 and _error(response)["field"] == "rating"
    response = client.post(f"/api/v1/drafts/{draft['id']}/feedback", json={})
    assert response.status_code == 400


def test_unexpected_failure_is_a_json_500_without_internals(client, monkeypatch):
    from backend.services import drafting

    def explode(*args, **kwargs):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr(drafting, "prepare", explode)
    response = client.post("/api/v1/drafts", json=draft_body())
    assert response.status_code == 500
    assert _error(response)["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)
