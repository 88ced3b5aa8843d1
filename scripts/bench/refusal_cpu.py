#!/usr/bin/env python3
"""CPU per shed draft in one process, one thread: what a 503 `overloaded` costs a worker.

Builds the app on a scratch SQLite directory, forces its lag monitor to shed every new draft,
and calls the WSGI app directly with POST /api/v1/drafts (request id, routing, the refusal, the
JSON envelope, the request's log line and metrics). The cost of building each WSGI environ is
measured apart and taken off. No other load and no other thread: under load a refusal also
waits for the interpreter like everything else.

Usage: .venv/bin/python scripts/bench/refusal_cpu.py [--requests 3000]
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from werkzeug.test import EnvironBuilder  # noqa: E402 - after the path

from backend.app import create_app  # noqa: E402
from backend.config import Settings  # noqa: E402

BODY = json.dumps({"message": {"subject": "Invoice", "from": "jane@acme-example.com",
                               "body_text": "Could you resend the invoice?"}}).encode()


def environ() -> dict:
    return EnvironBuilder(path="/api/v1/drafts", method="POST", data=BODY,
                          content_type="application/json",
                          headers={"Accept": "text/event-stream"}).get_environ()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    app = create_app(Settings(env="development", data_dir=Path(tempfile.mkdtemp()),
                              pseudonym_key=b"refusal-bench-key-0123456789", log_json=True))
    for handler in logging.getLogger().handlers:  # formatted as in production, written nowhere
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the run
    monitor = app.extensions["replywise"].lag_monitor
    monitor.shed_all_at_s = 0.05
    while monitor.shed_share < 1:
        monitor.record(1.0)
    statuses: list[str] = []

    def call() -> None:
        body = app.wsgi_app(environ(), lambda status, headers, exc=None: statuses.append(status))
        b"".join(body)
        body.close()

    call()
    if not statuses[0].startswith("503"):
        raise SystemExit(f"expected a 503 refusal, got {statuses[0]}")
    started = time.process_time()
    for _ in range(args.requests):
        call()
    total = time.process_time() - started
    started = time.process_time()
    for _ in range(args.requests):
        environ()
    building = time.process_time() - started
    print(f"{args.requests} refusals: {(total - building) / args.requests * 1000:.3f} ms CPU each "
          f"(environ building, {building / args.requests * 1000:.3f} ms, taken off)")


if __name__ == "__main__":
    main()
