"""`scripts/bench-kb run`: ingest, re-ingest, index size and retrieval latency on one database."""
from __future__ import annotations

import json
import os
import platform
import random
import statistics
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from backend.config import Settings
from backend.governance.identity import Principal
from backend.services import grounding, knowledge
from backend.services.runtime import build_runtime
from backend.storage import migrate

TENANT = "bench"
GROUPS = ("sales", "support", "legal", "finance")


def _database(args) -> tuple[str, callable]:
    if args.database == "sqlite":
        args.workdir.mkdir(parents=True, exist_ok=True)
        path = args.workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in
                                             args.workdir.glob(path.name + "*")]
    name = f"replywise_bench_{uuid.uuid4().hex[:8]}"
    admin_url = "postgresql+psycopg://" + args.postgres_admin_url.split("://", 1)[1]
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return args.postgres_admin_url.rsplit("/", 1)[0] + "/" + name, drop


def _index_bytes(rt, url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")
                   if not p.name.endswith("lock"))
    with rt.db.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT pg_total_relation_size('kb_chunks') + pg_total_relation_size('kb_documents')"
            " + pg_total_relation_size('kb_access')")).scalar())


def _spread_access(rt) -> None:
    """Give each document one of four groups, so a reader in two groups sees about half."""
    with rt.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM kb_access WHERE tenant_id = :t"), {"t": TENANT})
        conn.execute(text(
            "INSERT INTO kb_access (tenant_id, document_id, kind, principal) "
            "SELECT tenant_id, id, 'group', CASE id % 4 WHEN 0 THEN 'sales' WHEN 1 THEN "
            "'support' WHEN 2 THEN 'legal' ELSE 'finance' END FROM kb_documents "
            "WHERE tenant_id = :t"), {"t": TENANT})
        if rt.db.dialect == "postgresql":
            conn.execute(text("ANALYZE"))


def run_benchmark(args) -> dict:
    if args.reuse:  # retrieval only, on a database kept by an earlier run (--keep)
        url, cleanup = args.reuse, (lambda: None)
    else:
        url, cleanup = _database(args)
        migrate.upgrade(url)
    settings = Settings(data_dir=args.workdir, database_url=url, log_json=True,
                        log_level="WARNING", pseudonym_key=b"bench-pseudonym-key-0123456789")
    rt = build_runtime(settings)
    actor = Principal(idp="cli", tenant_id=TENANT, subject="bench",
                      roles=frozenset({"tenant_admin"}))
    result: dict = {"database": args.database, "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version()}}
    try:
        if args.reuse:
            with rt.db.engine.connect() as conn:
                result["chunks"] = conn.execute(text("SELECT count(*) FROM kb_chunks")).scalar()
            result["retrieval"] = _retrieval(rt, args)
            return result
        started = time.perf_counter()
        report = knowledge.ingest_path(rt, actor, args.corpus, groups=["staff"])
        seconds = time.perf_counter() - started
        result["ingest"] = {"files": report.files, "pages": report.pages,
                            "chunks": report.chunks, "skipped": len(report.skipped),
                            "seconds": round(seconds, 1),
                            "pages_per_s": round(report.pages / seconds, 1)}
        result["index_bytes"] = _index_bytes(rt, url)
        started = time.perf_counter()
        again = knowledge.ingest_path(rt, actor, args.corpus, groups=["staff"])
        result["reingest_unchanged"] = {"seconds": round(time.perf_counter() - started, 1),
                                        "unchanged": again.unchanged,
                                        "replaced": again.replaced}
        _spread_access(rt)
        result["retrieval"] = _retrieval(rt, args)
    finally:
        rt.close()
        if not args.keep:
            cleanup()
    return result


def _retrieval(rt, args) -> dict:
    emails = json.loads((args.corpus / "emails.json").read_text())
    random.Random(3).shuffle(emails)
    emails = (emails * (args.queries // max(1, len(emails)) + 1))[:args.queries]
    with rt.db.session(TENANT) as session:
        from backend.services.accounts import ensure_tenant
        ensure_tenant(session, TENANT)
    reader = Principal(idp="local", tenant_id=TENANT, subject="reader", user_id="reader",
                       groups=frozenset({"sales", "support"}))
    for email in emails[:20]:  # warm caches
        grounding.search(rt, reader, email)
    # The machine is shared: latency figures mean little without the load they were taken at.
    load_before = os.getloadavg()
    timings, found = [], 0
    for email in emails:
        started = time.perf_counter()
        hits = grounding.search(rt, reader, email)
        timings.append((time.perf_counter() - started) * 1000)
        found += bool(hits)
    timings.sort()
    return {"queries": len(timings), "with_results": found,
            "p50_ms": round(statistics.median(timings), 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
            "max_ms": round(timings[-1], 2),
            "load_average": {"before": [round(x, 2) for x in load_before],
                             "after": [round(x, 2) for x in os.getloadavg()]}}
