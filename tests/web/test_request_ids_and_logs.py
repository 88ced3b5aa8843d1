"""Every response carries a request id, and every log line of that request carries it too."""
from __future__ import annotations

import json

from backend import logs

from tests.web.drafting_support import draft_body


def _log_lines(captured: str) -> list[dict]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_each_response_has_its_own_request_id(client):
    first = client.get("/healthz").headers["X-Request-Id"]
    second = client.get("/healthz").headers["X-Request-Id"]
    assert first and second and first != second


def test_a_well_formed_incoming_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-Id": "trace-abc-12345"})
    assert response.headers["X-Request-Id"] == "trace-abc-12345"


def test_a_malicious_incoming_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-Id": '"}, {"level": "FAKE'})
    assert "FAKE" not in response.headers["X-Request-Id"]
    assert len(response.headers["X-Request-Id"]) == 32


def test_log_lines_are_json_with_the_request_id(client, capsys):
    logs.configure("INFO", as_json=True)  # bind the handler to this test's captured stderr
    response = client.post("/api/v1/drafts", json=draft_body())
    request_id = response.headers["X-Request-Id"]
    lines = _log_lines(capsys.readouterr().err)
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert mine, lines
    access = [line for line in mine if line["logger"] == "replywise.access"]
    assert access and access[0]["status"] == 200 and access[0]["path"] == "/api/v1/drafts"


def test_logs_carry_no_message_content(client, capsys):
    logs.configure("DEBUG", as_json=True)
    client.post("/api/v1/drafts", json=draft_body())
    captured = capsys.readouterr().err
    assert '"logger": "replywise.access"' in captured
    assert "invoice for March" not in captured and "Jane" not in captured
