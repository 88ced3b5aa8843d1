"""Two `replywise serve` instances on one PostgreSQL and one Redis share one per-user limit."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import pytest
import requests

from backend.config import Settings
from backend.governance.identity import Principal
from backend.services import limits
from backend.services.runtime import build_runtime
from tests.conftest import CHECKOUT, local_headers, replywise_command
from tests.limits.limits_support import fresh_minute
from tests.web.drafting_support import draft_body

TENANT, LIMIT = "two-instances", 5
KEY = "test-pseudonym-key-0123456789"


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(base: str) -> bool:
    try:
        return requests.get(f"{base}/readyz", timeout=2).ok
    except requests.RequestException:  # not listening yet, or busy starting
        return False


@pytest.fixture
def two_instances(postgres_url, redis_ns, tmp_path):
    settings = Settings(database_url=postgres_url, data_dir=tmp_path, redis_url=redis_ns.url,
                        redis_prefix=redis_ns.prefix, pseudonym_key=KEY.encode())
    rt = build_runtime(settings)
    admin = Principal(idp="cli", tenant_id=TENANT, subject="operator",
                      roles=frozenset({"tenant_admin"}))
    limits.set_limit(rt, admin, "user_rpm", LIMIT)
    rt.close()
    env = {**os.environ, "REPLYWISE_DATABASE_URL": postgres_url,
           "REPLYWISE_DATA_DIR": str(tmp_path), "REPLYWISE_REDIS_URL": redis_ns.url,
           "REPLYWISE_REDIS_PREFIX": redis_ns.prefix, "REPLYWISE_PSEUDONYM_KEY": KEY,
           "REPLYWISE_LOG_LEVEL": "WARNING"}
    processes, bases = [], []
    log = open(tmp_path / "serve.log", "w+")
    try:
        for _ in range(2):
            port = _free_port()
            processes.append(subprocess.Popen(
                replywise_command("serve", "--port", str(port), "--workers", "2", "--threads",
                                  "8"), cwd=CHECKOUT, env=env, stdout=log, stderr=log))
            bases.append(f"http://127.0.0.1:{port}")
        for base in bases:
            deadline = time.monotonic() + 60
            while not _ready(base):
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"{base} did not start:\n{log.read()}")
                time.sleep(0.1)
        yield bases
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def test_a_per_user_limit_of_n_admits_exactly_n_across_two_instances(two_instances, redis_ns):
    headers = local_headers(TENANT, "carol")
    for base in two_instances:  # the user exists before the burst (creation is not the test)
        assert requests.get(f"{base}/api/v1/me", headers=headers, timeout=5).ok
    fresh_minute(min_left_s=8)
    burst = 3 * LIMIT
    barrier = threading.Barrier(burst)
    answers: list[requests.Response] = []

    def draft(base: str) -> None:
        barrier.wait()
        answers.append(requests.post(f"{base}/api/v1/drafts", json=draft_body(),
                                     headers=headers, timeout=30))

    threads = [threading.Thread(target=draft, args=(two_instances[i % 2],))
               for i in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * LIMIT + [429] * (2 * LIMIT)
    for refused in (a for a in answers if a.status_code == 429):
        assert refused.json()["error"]["limit"] == "user_rpm"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # The shared counter lives in Redis, under this test's prefix.
    (counter,) = [k for k in redis_ns.keys() if ":lim:" in k]
    assert int(redis_ns.client.get(counter)) == LIMIT
