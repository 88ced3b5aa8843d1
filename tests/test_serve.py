"""`replywise serve` really serves: gunicorn with gthread workers, JSON and streamed drafts."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from tests.conftest import CHECKOUT, replywise_command
from tests.web.drafting_support import draft_body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(sqlite_url, tmp_path):
    port = _free_port()
    env = {**os.environ, "REPLYWISE_DATABASE_URL": sqlite_url,
           "REPLYWISE_DATA_DIR": str(tmp_path), "REPLYWISE_LOG_JSON": "true"}
    log = open(tmp_path / "serve.log", "w+")
    process = subprocess.Popen(replywise_command("serve", "--port", str(port), "--workers", "2",
                                                 "--threads", "4"),
                               cwd=CHECKOUT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            log.seek(0)
            pytest.fail(f"server did not start:\n{log.read()}")
        yield base, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_serve_answers_drafts_over_http_and_logs_json(served):
    base, log = served
    with requests.Session() as http:
        response = http.post(f"{base}/api/v1/drafts", json=draft_body(), timeout=10)
    assert response.status_code == 200
    assert response.json()["text"].startswith("Dear Jane")
    request_id = response.headers["X-Request-Id"]
    time.sleep(0.2)
    log.seek(0)
    lines = [json.loads(line) for line in log.read().splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == request_id and line.get("status") == 200
               for line in lines)


def test_serve_streams_events_as_they_are_made(served):
    base, _ = served
    with requests.post(f"{base}/api/v1/drafts", json=draft_body(), stream=True, timeout=10,
                       headers={"Accept": "text/event-stream"}) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines(decode_unicode=True)
                  if line.startswith("event: ")]
    assert events[-1] == "event: done" and events.count("event: delta") > 3


def test_a_forwarded_for_header_does_not_make_a_local_caller_remote(served):
    base, _ = served
    # Loopback is the only origin local mode trusts; a forwarded-for header must not change that.
    response = requests.get(f"{base}/api/v1/me", headers={"X-Forwarded-For": "10.0.0.9"},
                            timeout=5)
    assert response.status_code == 200  # the socket peer is still loopback
    assert response.headers["X-Replywise-Identity"] == "local"
