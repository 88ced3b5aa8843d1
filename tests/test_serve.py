"""`replywise serve` really serves: gunicorn with gthread workers, JSON and streamed drafts."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import IO

import pytest
import requests

from tests.conftest import CHECKOUT, replywise_command
from tests.fakes.openai_server import Behaviour, FakeOpenAIServer
from tests.web.drafting_support import draft_body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def _serving(tmp_path, env_extra: dict[str, str], *args: str) -> Iterator[tuple[str, IO[str]]]:
    port = _free_port()
    env = {**os.environ, "REPLYWISE_DATA_DIR": str(tmp_path), "REPLYWISE_LOG_JSON": "true",
           **env_extra}
    log = open(tmp_path / "serve.log", "w+")
    process = subprocess.Popen(replywise_command("serve", "--port", str(port), *args),
                               cwd=CHECKOUT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                # Not up yet: refused before the master binds, or bound while no worker has
                # finished booting to answer (seconds on a slow, busy machine).
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


@pytest.fixture
def served(sqlite_url, tmp_path):
    with _serving(tmp_path, {"REPLYWISE_DATABASE_URL": sqlite_url}, "--workers", "2",
                  "--threads", "4") as serving:
        yield serving


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


def test_workers_times_threads_streams_run_at_once_on_kept_alive_connections(
        sqlite_url, tmp_path, openai_server: FakeOpenAIServer):
    """Two workers of three threads each hold six concurrent streams on keep-alive
    connections, round after round: no draft waits for another."""
    latency = 1.5
    openai_server.set_default(Behaviour.ok("Thanks, noted.", latency_s=latency))
    providers = json.dumps([{"name": "slow", "kind": "compatible", "model": "m",
                             "base_url": openai_server.base_url, "timeout_s": 30}])
    with _serving(tmp_path, {"REPLYWISE_DATABASE_URL": sqlite_url,
                             "REPLYWISE_PROVIDERS": providers},
                  "--workers", "2", "--threads", "3") as (base, _):
        for _ in range(3):  # each round on new connections: where they land is up to the kernel
            timings: list[float] = []
            failures: list[BaseException] = []
            together = threading.Barrier(6)

            def client() -> None:
                try:
                    with requests.Session() as http:
                        for _ in range(2):  # the second request rides the kept-alive connection
                            together.wait(timeout=30)  # both clients send at the same moment
                            began = time.monotonic()
                            response = http.post(f"{base}/api/v1/drafts", timeout=30,
                                                 json=draft_body(),
                                                 headers={"Accept": "text/event-stream"})
                            assert "event: done" in response.text, response.text[-300:]
                            timings.append(time.monotonic() - began)
                except BaseException as exc:  # reported below, not lost in the thread
                    failures.append(exc)

            clients = [threading.Thread(target=client) for _ in range(6)]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join(timeout=60)
            assert not failures
            assert len(timings) == 12
            assert max(timings) < 2 * latency - 0.3, timings  # nobody waited for a thread


def test_each_worker_publishes_its_lag_to_metrics(served):
    base, _log = served
    deadline = time.monotonic() + 15
    while True:  # published about once a second by each worker's lag monitor
        body = requests.get(f"{base}/metrics", timeout=5).text
        lines = [line for line in body.splitlines()
                 if line.startswith("replywise_worker_lag_seconds")]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert lines, body[:2000]
    assert 0 <= float(lines[0].split()[-1]) < 1.0
    assert "replywise_drafts_shed_total 0.0" in body


def test_a_worker_accepts_no_more_connections_than_it_has_threads():
    """Stock gthread accepts up to 1,000 connections per worker whatever its threads; a
    request on a connection beyond them waits for another stream to end, even while a
    sibling worker has threads idle (docs/adr/0001, amendment)."""
    import logging

    from gunicorn.config import Config

    from backend.cli.gthread_worker import BoundedThreadWorker

    cfg = Config()
    cfg.set("threads", 7)
    assert cfg.worker_connections == 1000  # what stock gthread would accept
    worker = BoundedThreadWorker(1, os.getpid(), [], None, 30, cfg, logging.getLogger("test"))
    try:
        assert worker.worker_connections == 7
    finally:
        worker.tmp.close()  # the heartbeat file every gunicorn worker opens


def test_a_worker_leaves_its_start_up_heap_out_of_the_collectors_passes(tmp_path, sqlite_url):
    """A full collection walks every tracked object with the GIL held, stalling every stream
    of the worker: the objects built at start-up (some 120,000, alive until the worker exits)
    are frozen out of those walks once the app exists (docs/benchmarks.md, issue 7)."""
    import gc
    import sys

    from backend.cli.server_commands import worker_app
    from backend.config import Settings

    switch = sys.getswitchinterval()
    gc.unfreeze()
    app = None
    try:
        app = worker_app(Settings(env="development", data_dir=tmp_path, database_url=sqlite_url,
                                  pseudonym_key=b"test-pseudonym-key-0123456789"))
        assert gc.get_freeze_count() > 10_000
        # Frozen objects belong to no generation: the collector no longer visits the app.
        assert not any(obj is app for obj in gc.get_objects())
        assert app.test_client().get("/healthz").status_code == 200  # and it still serves
        # The worker also measures its lag, to shed new drafts when far behind.
        assert app.extensions["replywise"].lag_monitor._thread.is_alive()
    finally:
        gc.unfreeze()
        sys.setswitchinterval(switch)
        if app is not None:
            app.extensions["replywise"].close()
