#!/usr/bin/env python3
"""CPU and wall time of recording one draft (its row and audit event) on PostgreSQL.

Calls services.drafts_store.save_draft in a loop on a scratch database: the transaction every
draft ends with (docs/adr/0007). One thread, nothing else running, so the numbers are the
path's own cost; under load each round trip also waits for the GIL.

--writers N --busy M: N threads record drafts of one tenant at once while M threads of the same
process keep the GIL busy, as a loaded worker's streams do. Each writer then waits for the GIL
after every round trip, and for the tenant's audit head lock as long as another writer holds it:
reports drafts per second and the p50 / p99 time per call.

Usage: .venv/bin/python scripts/bench/draft_record.py [--calls 1000] [--rounds 3]
       [--writers 0] [--busy 0] [--postgres URL]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scratch import scratch_postgres  # noqa: E402 - scripts/bench, beside this file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", type=int, default=0)
    parser.add_argument("--busy", type=int, default=0)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()

    from backend.config import Settings
    from backend.drafting.model import DraftOptions
    from backend.governance.identity import LOCAL_IDP, Principal
    from backend.providers.llm.base import Usage
    from backend.services import accounts
    from backend.services.drafts_store import save_draft
    from backend.services.runtime import build_runtime

    url = scratch_postgres(args.postgres, "replywise_draft_record", migrate=True)
    rt = build_runtime(Settings(database_url=url, data_dir=Path(tempfile.mkdtemp()),
                                pseudonym_key=b"bench-pseudonym-key-0123456789",
                                log_level="WARNING"))
    principal = accounts.resolve(rt, Principal(idp=LOCAL_IDP, tenant_id="t", subject="u"))

    def record() -> None:
        save_draft(rt, principal, surface="api", status="completed", provider="upstream",
                   model="m", options=DraftOptions(), language="en", usage=Usage(120, 80),
                   cost=Decimal("0.000123"), latency_ms=950, ttft_ms=410, attempts=1,
                   failovers=0, offline_fallback=False, text=None, keep_text=False,
                   pii_counts={"email": 1})

    for _ in range(200):
        record()
    if args.writers:
        contended(record, args)
        rt.close()
        return
    for _ in range(args.rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.calls):
            record()
        print(f"save_draft: CPU {(time.process_time() - cpu) / args.calls * 1000:.2f} ms, "
              f"wall {(time.perf_counter() - wall) / args.calls * 1000:.2f} ms per call")
    rt.close()


def contended(record, args) -> None:
    """`args.writers` threads each make `args.calls` records while `args.busy` threads spin."""
    import threading

    stop = threading.Event()

    def spin() -> None:  # pure Python work that holds the GIL until the interpreter switches
        while not stop.is_set():
            sum(range(1000))

    def write(times: list[float]) -> None:
        for _ in range(args.calls):
            began = time.perf_counter()
            record()
            times.append(time.perf_counter() - began)

    spinners = [threading.Thread(target=spin) for _ in range(args.busy)]
    for thread in spinners:
        thread.start()
    try:
        for _ in range(args.rounds):
            per_writer: list[list[float]] = [[] for _ in range(args.writers)]
            writers = [threading.Thread(target=write, args=(t,)) for t in per_writer]
            wall = time.perf_counter()
            for thread in writers:
                thread.start()
            for thread in writers:
                thread.join()
            wall = time.perf_counter() - wall
            times = sorted(t for ts in per_writer for t in ts)
            print(f"{args.writers} writers, {args.busy} busy threads: "
                  f"{len(times) / wall:.0f} drafts/s, per call p50 "
                  f"{times[len(times) // 2] * 1000:.1f} / p99 "
                  f"{times[int(len(times) * 0.99)] * 1000:.1f} ms")
    finally:
        stop.set()
        for thread in spinners:
            thread.join()


if __name__ == "__main__":
    main()
