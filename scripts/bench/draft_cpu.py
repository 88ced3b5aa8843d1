#!/usr/bin/env python3
"""CPU per streamed draft in one process, one thread: the full path through the Flask app.

POST /api/v1/drafts through Flask's test client, on PostgreSQL (a scratch database) and Redis,
against scripts/bench/async_upstream.py in a subprocess (its CPU is not counted). No other load
and no other thread, so this is the service's own cost per draft without contention: compare
it with what `scripts/loadtest` reports for gunicorn workers under load. --chunk-delay paces the
upstream's chunks like a provider does; with 0 they arrive back to back and are read in a few
system calls. --profile writes a cProfile (CPU clock) of a second pass to the given file.

Usage: .venv/bin/python scripts/bench/draft_cpu.py [--drafts 400] [--warm 200]
       [--chunk-delay 0] [--words 20] [--postgres URL] [--redis URL] [--profile FILE]
       [--every N]
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scratch import scratch_postgres  # noqa: E402 - scripts/bench, beside this file

MESSAGE = ("Hi Sam,\n\nCould you resend the March invoice? The PDF we received was empty. "
           "Please also confirm whether the delivery is still planned for 3 December.\n\n"
           "Best regards,\nJane Doe\nHead of Purchasing, ACME Ltd\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=400)
    parser.add_argument("--warm", type=int, default=200, help="drafts before measuring")
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument("--words", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--profile", default="")
    parser.add_argument("--cycles", type=int, default=0,
                        help="after warm-up, run this many drafts with the cyclic collector "
                             "off, then list what it would have had to collect (reference "
                             "cycles left per draft: work a collector pass does holding the GIL)")
    parser.add_argument("--held", type=int, default=0,
                        help="after warm-up, hold this many drafts open at once (threads; the "
                             "upstream answers after --latency s) and list the objects the "
                             "cyclic collector tracks for each: what every collector pass of a "
                             "loaded worker walks")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="the upstream's seconds before its first chunk")
    parser.add_argument("--every", type=int, default=0,
                        help="also print CPU per draft for each block of this many drafts, to "
                             "see whether it grows as the database and the process fill up")
    args = parser.parse_args()

    port = free_port()
    text = "Hello,\n\n" + " ".join(["word"] * (args.words - 1) + ["end."])
    upstream = subprocess.Popen([sys.executable, str(ROOT / "scripts/bench/async_upstream.py"),
                                 "--port", str(port), "--latency", str(args.latency),
                                 "--chunk-delay", str(args.chunk_delay), "--text", text],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        os.environ.update(
            REPLYWISE_DATABASE_URL=scratch_postgres(args.postgres, "replywise_draft_cpu",
                                                    migrate=True),
            REPLYWISE_DATA_DIR=tempfile.mkdtemp(prefix="replywise-draft-cpu-"),
            REPLYWISE_LOG_LEVEL="WARNING", REPLYWISE_REDIS_URL=args.redis,
            REPLYWISE_REDIS_PREFIX=f"draft-cpu:{os.getpid()}:",
            REPLYWISE_PSEUDONYM_KEY="bench-pseudonym-key-0123456789",
            REPLYWISE_PROVIDERS=json.dumps([{"name": "upstream", "kind": "compatible",
                                             "model": "gpt-4o-mini", "timeout_s": 60,
                                             "base_url": f"http://127.0.0.1:{port}/v1"}]))
        from backend.app import create_app
        app = create_app()
        client = app.test_client()

        def draft(n: int) -> None:  # every request distinct: the draft cache cannot answer
            response = client.post(
                "/api/v1/drafts", json={"message": {
                    "subject": f"Invoice {n} for March",
                    "from": "Jane Doe <jane.doe@acme-example.com>",
                    "to": ["Sam Lee <sam@corp-example.com>"], "body_text": MESSAGE + f"Ref {n}\n"},
                    "options": {"tone": "friendly"}},
                headers={"Accept": "text/event-stream", "X-Replywise-Tenant": f"t{n % 10}",
                         "X-Replywise-User": f"u{n % 1000}"})
            body = response.get_data()
            assert response.status_code == 200 and b"event: done" in body, body[-300:]

        for n in range(args.warm):
            draft(n)
        if args.cycles:
            print_cycles(draft, args.cycles)
            return
        if args.held:
            print_held(draft, args.held, args.latency)
            return
        cpu, wall = time.process_time(), time.perf_counter()
        block = cpu
        for n in range(args.drafts):
            draft(100_000 + n)
            if args.every and (n + 1) % args.every == 0:
                now = time.process_time()
                print(f"drafts {n + 2 - args.every}-{n + 1}: CPU "
                      f"{(now - block) / args.every * 1000:.2f} ms per draft", flush=True)
                block = now
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print(f"{args.drafts} drafts of {args.words + 2} chunks, {args.chunk_delay * 1000:g} ms "
              f"apart: CPU {cpu / args.drafts * 1000:.2f} ms and wall "
              f"{wall / args.drafts * 1000:.1f} ms per draft (this process only)")
        if args.profile:
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for n in range(args.drafts):
                draft(200_000 + n)
            profile.disable()
            profile.dump_stats(args.profile)
        app.extensions["replywise"].close()
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)


def print_held(draft, held: int, latency: float) -> None:
    """The collector-tracked objects that `held` open drafts keep alive, by type, per draft."""
    import collections
    import gc
    import threading

    def census() -> collections.Counter:
        gc.collect()
        return collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}"
                                   for o in gc.get_objects())

    before = census()
    threads = [threading.Thread(target=draft, args=(500_000 + n,)) for n in range(held)]
    for thread in threads:
        thread.start()
    # Every draft is then blocked on its upstream's first chunk. gc.get_objects must not run
    # while another thread builds a tuple (its resize fails once listed): waiting threads do not.
    time.sleep(latency / 2)
    during = census()
    for thread in threads:
        thread.join()
    grown = during - before
    print(f"{sum(grown.values()) / held:.0f} tracked objects per open draft ({held} held); "
          f"by type, per draft:")
    for kind, count in grown.most_common(30):
        print(f"  {count / held:7.1f}  {kind}")


def print_cycles(draft, drafts: int) -> None:
    """What `drafts` drafts leave for the cyclic collector, by type, per draft."""
    import collections
    import gc
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    for n in range(drafts):
        draft(300_000 + n)
    found = gc.collect()
    kinds = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage)
    print(f"{found} objects in reference cycles after {drafts} drafts "
          f"({found / drafts:.1f} per draft); by type, per draft:")
    for kind, count in kinds.most_common(30):
        print(f"  {count / drafts:7.2f}  {kind}")
    gc.set_debug(0)
    gc.garbage.clear()
    gc.enable()


if __name__ == "__main__":
    main()
