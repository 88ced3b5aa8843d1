"""Measure Replywise's own overhead per draft against a zero-latency provider.

In-process: the Flask test client drives the full request path (validation, parsing, redaction,
prompt, provider chain, restore, database write and audit event) with the in-process `echo`
provider, one request at a time. Over HTTP: `replywise serve` (gunicorn, gthread workers) is
started on loopback and `wrk` drives it; its latency distribution is the overhead, since the
provider answers instantly. Both on SQLite and on PostgreSQL.

Usage: .venv/bin/python scripts/bench/overhead.py [--postgres URL] [--seconds 20]
       [--connections 2,8,16] [--workers 2] [--threads 16] [--requests 2000]
Prints a Markdown report to stdout.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scratch import scratch_postgres  # noqa: E402 - scripts/bench, beside this file

from backend.app import create_app  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.providers.llm.base import ProviderConfig  # noqa: E402
from backend.storage import migrate  # noqa: E402
from tests.web.drafting_support import draft_body  # noqa: E402

ECHO = (ProviderConfig(name="echo", kind="echo", model="echo"),)
LUA = ROOT / "scripts" / "bench" / "draft.lua"


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


def in_process(url: str, data_dir: Path, requests: int) -> dict[str, float]:
    """Sequential drafts through the Flask test client."""
    # Cache off: every request here is identical, and the full path is what is measured.
    settings = Settings(data_dir=data_dir, database_url=url, providers=ECHO, log_level="WARNING",
                        pseudonym_key=b"bench-pseudonym-key-0123456789", draft_cache_ttl_s=0)
    app = create_app(settings)
    client = app.test_client()
    body = draft_body(tone="friendly")
    for _ in range(100):  # warm caches, connection pool, compiled statements
        client.post("/api/v1/drafts", json=body)
    timings = []
    started = time.perf_counter()
    for _ in range(requests):
        t0 = time.perf_counter()
        response = client.post("/api/v1/drafts", json=body)
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)
    elapsed = time.perf_counter() - started
    app.extensions["replywise"].close()
    timings.sort()
    return {"p50": percentile(timings, 50), "p95": percentile(timings, 95),
            "p99": percentile(timings, 99), "rate": requests / elapsed}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def over_http(url: str, data_dir: Path, connections: list[int], seconds: int, workers: int,
              threads: int) -> list[dict[str, float]]:
    """wrk against `replywise serve` at each concurrency level."""
    port = _free_port()
    env = {**os.environ, "REPLYWISE_DATABASE_URL": url, "REPLYWISE_DATA_DIR": str(data_dir),
           "REPLYWISE_LOG_LEVEL": "WARNING", "REPLYWISE_PROVIDERS": '[{"kind": "echo"}]',
           "REPLYWISE_PSEUDONYM_KEY": "bench-pseudonym-key-0123456789",
           "REPLYWISE_DRAFT_CACHE_TTL_S": "0"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "replywise"), "serve",
                               "--port", str(port), "--workers", str(workers),
                               "--threads", str(threads)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = f"http://127.0.0.1:{port}/api/v1/drafts"
    try:
        _wait_ready(port)
        subprocess.run(["wrk", "-t1", "-c2", "-d3s", "-s", str(LUA), target],
                       capture_output=True, check=True)  # warm-up
        results = []
        for c in connections:
            out = subprocess.run(["wrk", f"-t{min(2, c)}", f"-c{c}", f"-d{seconds}s",
                                  "--latency", "-s", str(LUA), target],
                                 capture_output=True, text=True, check=True).stdout
            results.append({"connections": c, **_parse_wrk(out)})
        return results
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _wait_ready(port: int) -> None:
    import urllib.request
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not become ready")


def _parse_wrk(out: str) -> dict[str, float]:
    line = dict(kv.split("=") for kv in re.search(r"^RW (.*)$", out, re.MULTILINE)
                .group(1).split())
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    return {"p50": int(line["p50_us"]) / 1000, "p95": int(line["p95_us"]) / 1000,
            "p99": int(line["p99_us"]) / 1000,
            "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "errors": int(line["non2xx"])
                      + (sum(map(int, socket_errors.groups())) if socket_errors else 0)}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="an existing database the benchmark may create tables in (a "
                             "scratch database named replywise_bench is created next to it)")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", default="2,8,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed for the HTTP part: apt-get install -y wrk")
    connections = [int(c) for c in args.connections.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"SQLite": f"sqlite:///{tmp}/bench.db",
                "PostgreSQL": scratch_postgres(args.postgres, "replywise_bench")}
        print(f"Machine: {machine()}\n")
        print("| database | path | concurrency | p50 ms | p95 ms | p99 ms | drafts/s | errors |")
        print("|---|---|---|---|---|---|---|---|")
        for name, url in urls.items():
            migrate.upgrade(url)
            r = in_process(url, Path(tmp), args.requests)
            print(f"| {name} | in-process | 1 | {r['p50']:.2f} | {r['p95']:.2f} | "
                  f"{r['p99']:.2f} | {r['rate']:.0f} | 0 |", flush=True)
            for r in over_http(url, Path(tmp), connections, args.seconds, args.workers,
                               args.threads):
                print(f"| {name} | HTTP, gunicorn {args.workers}×gthread | {r['connections']} "
                      f"| {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | "
                      f"{r['rate']:.0f} | {r['errors']} |", flush=True)


if __name__ == "__main__":
    main()
