#!/usr/bin/env python3
"""CPU and wall time of recording one draft (its row and audit event) on PostgreSQL.

Calls services.drafts_store.save_draft in a loop on a scratch database: the transaction every
draft ends with (docs/adr/0007). One thread, nothing else running, so the numbers are the
path's own cost; under load each round trip also waits for the GIL.

Usage: .venv/bin/python scripts/bench/draft_record.py [--calls 1000] [--rounds 3]
       [--postgres URL]
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
    for _ in range(args.rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.calls):
            record()
        print(f"save_draft: CPU {(time.process_time() - cpu) / args.calls * 1000:.2f} ms, "
              f"wall {(time.perf_counter() - wall) / args.calls * 1000:.2f} ms per call")
    rt.close()


if __name__ == "__main__":
    main()
