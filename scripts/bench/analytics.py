"""Benchmark the analytics page on a year of a 10,000-user tenant, on PostgreSQL and SQLite.

    .venv/bin/python scripts/bench/analytics.py [--users 10000] [--days 365] [--db both]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]

Seeds the raw tables with driver-level bulk loads (COPY on PostgreSQL, executemany on SQLite),
then times: the first full rollup build, an incremental refresh after new drafts, the overview
for 30 / 90 / 365 days with and without filters, drift, and — for comparison — one GROUP BY
day over the raw drafts table, which is what the page would cost without the rollup.
Prints a Markdown table for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

from sqlalchemy import Date, bindparam, create_engine, text  # noqa: E402

from backend.config import Settings  # noqa: E402
from backend.governance.identity import Principal  # noqa: E402
from backend.services import analytics, analytics_rollup  # noqa: E402
from backend.services.runtime import build_runtime  # noqa: E402
from backend.storage import migrate  # noqa: E402

TENANT = "bench"
TEAMS = ("Support", "Sales", "Engineering", "Operations", "Finance", "Legal", "HR", "Marketing")
SURFACES = ("outlook",) * 6 + ("gmail",) * 3 + ("api",)
ROUTES = (("azure-eu", "gpt-4o-mini", 2300, 0.00015, 0.0006),) * 7 + (
    ("openai", "gpt-4o-mini", 2600, 0.00015, 0.0006),) * 2 + (
    ("openai", "gpt-4.1", 3900, 0.002, 0.008),)
WEEKDAY = (1.3, 1.35, 1.3, 1.25, 1.0, 0.12, 0.08)
DRAFT_COLUMNS = ("id", "tenant_id", "user_id", "surface", "status", "provider", "model", "tone",
                 "length", "language", "prompt_tokens", "completion_tokens", "cost_usd",
                 "latency_ms", "ttft_ms", "attempts", "failovers", "offline_fallback",
                 "text_length", "pii_counts", "created_at", "cached", "saved_usd")
FEEDBACK_COLUMNS = ("id", "tenant_id", "draft_id", "user_id", "action", "rating", "edit_ratio",
                    "created_at")


def generate(users: int, days: int, end: date, seed: int = 11):
    """Yield ("user"|"draft"|"feedback", tuple) rows; the same for the same arguments."""
    rng = random.Random(seed)
    people = []
    for i in range(users):
        uid = f"{i:032x}"
        people.append((uid, TEAMS[i % len(TEAMS)], rng.lognormvariate(0, 0.6) * 0.83))
        yield "user", (uid, TENANT, "local", f"bench-{i:05d}", None, None, TEAMS[i % len(TEAMS)],
                       datetime(2024, 1, 1, tzinfo=timezone.utc), None)
    n = 0
    start = end - timedelta(days=days - 1)
    for offset in range(days):
        day = start + timedelta(days=offset)
        base = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        factor = WEEKDAY[day.weekday()]
        for uid, _team, activity in people:
            mean = activity * factor
            k = 0
            limit, p = math.exp(-mean), rng.random()
            while p > limit:
                k += 1
                p *= rng.random()
            for _ in range(k):
                n += 1
                did = f"{n:032x}"
                provider, model, median, pin, pout = ROUTES[int(rng.random() * 10)]
                roll = rng.random()
                status, failovers, fallback = "completed", 0, False
                if roll < 0.008:
                    provider, model, median, pin, pout = "offline", "offline", 40, 0, 0
                    status, failovers, fallback = "offline", 1, True
                elif roll < 0.03:
                    failovers = 1
                elif roll < 0.05:
                    status = "cancelled"
                prompt = 400 + int(rng.random() * 1600)
                completion = 80 + int(rng.random() * 300)
                latency = int(median * math.exp(rng.gauss(0, 0.35)))
                at = base + timedelta(seconds=int(25200 + rng.random() * 39600))
                pii = '{"EMAIL": 1}' if roll > 0.6 else ('{"PERSON": 2, "PHONE": 1}'
                                                          if roll > 0.45 else "{}")
                yield "draft", (did, TENANT, uid, SURFACES[int(rng.random() * 10)], status,
                                provider, model, "neutral", "medium", "en", prompt, completion,
                                round((pin * prompt + pout * completion) / 1000, 6), latency,
                                int(latency * 0.2), 1 + failovers, failovers, fallback,
                                completion * 4, pii, at, False, 0.0)
                r = rng.random()
                if status != "cancelled" and r < 0.62:
                    yield "feedback", (did, TENANT, did, uid, "inserted",
                                       1 if r < 0.15 else None,
                                       round(r / 2, 4) if r < 0.3 else None,
                                       at + timedelta(seconds=60))


def load_postgres(url: str, users: int, days: int, end: date) -> dict[str, int]:
    import psycopg
    counts = {"user": 0, "draft": 0, "feedback": 0}
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        with conn.cursor() as cur:
            copies = {
                "user": "COPY users (id, tenant_id, idp, subject, email, display_name, team, "
                        "created_at, last_seen_at) FROM STDIN",
                "draft": f"COPY drafts ({', '.join(DRAFT_COLUMNS)}) FROM STDIN",
                "feedback": f"COPY feedback ({', '.join(FEEDBACK_COLUMNS)}) FROM STDIN",
            }
            cur.execute("INSERT INTO tenants (id, name, policy, created_at) VALUES "
                        "(%s, 'Bench', '{}', now())", (TENANT,))
            buffers: dict[str, list] = {k: [] for k in copies}

            def flush(kind: str) -> None:
                with cur.copy(copies[kind]) as copy:
                    for row in buffers[kind]:
                        copy.write_row(row)
                buffers[kind].clear()

            for kind, row in generate(users, days, end):
                if kind != "user" and buffers["user"]:
                    flush("user")
                buffers[kind].append(row)
                counts[kind] += 1
                if len(buffers[kind]) >= 50_000:
                    if kind == "feedback":
                        flush("draft")
                    flush(kind)
            for kind in ("user", "draft", "feedback"):
                if buffers[kind]:
                    flush(kind)
        conn.execute("ANALYZE")
    return counts


def load_sqlite(path: str, users: int, days: int, end: date) -> dict[str, int]:
    counts = {"user": 0, "draft": 0, "feedback": 0}
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("INSERT INTO tenants (id, name, policy, created_at) VALUES (?, 'Bench', '{}', "
                 "'2024-01-01 00:00:00.000000')", (TENANT,))
    sql = {
        "user": "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "draft": f"INSERT INTO drafts ({', '.join(DRAFT_COLUMNS)}) VALUES "
                 f"({', '.join('?' * len(DRAFT_COLUMNS))})",
        "feedback": f"INSERT INTO feedback ({', '.join(FEEDBACK_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(FEEDBACK_COLUMNS))})",
    }
    user_columns = [r[1] for r in conn.execute("PRAGMA table_info(users)")]
    sql["user"] = (f"INSERT INTO users (id, tenant_id, idp, subject, email, display_name, team, "
                   f"created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
    assert "team" in user_columns
    buffers: dict[str, list] = {k: [] for k in sql}

    def stamp(value):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value

    def flush(kind: str) -> None:
        conn.executemany(sql[kind], buffers[kind])
        buffers[kind].clear()

    for kind, row in generate(users, days, end):
        buffers[kind].append(tuple(stamp(v) for v in row))
        counts[kind] += 1
        if len(buffers[kind]) >= 50_000:
            if kind == "feedback":
                flush("draft")
            flush(kind)
    for kind in ("user", "draft", "feedback"):
        if buffers[kind]:
            flush(kind)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return counts


def timed(fn, repeat: int = 3) -> float:
    """Median wall time in milliseconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def bench(label: str, url: str, users: int, days: int, end: date) -> list[tuple[str, str]]:
    migrate.upgrade(url)
    started = time.perf_counter()
    counts = (load_postgres(url, users, days, end) if url.startswith("postgresql")
              else load_sqlite(url.split("///", 1)[1], users, days, end))
    load_s = time.perf_counter() - started
    rt = build_runtime(Settings(data_dir=Path(tempfile.mkdtemp()), database_url=url,
                                pseudonym_key=b"bench-pseudonym-key-0123456789"))
    results = [("rows", f"{counts['draft']:,} drafts, {counts['feedback']:,} feedback, "
                        f"{counts['user']:,} users"), ("bulk load", f"{load_s:.0f} s")]
    started = time.perf_counter()
    built = analytics_rollup.refresh(rt, TENANT, force=True)
    results.append(("rollup: first full build", f"{time.perf_counter() - started:.1f} s "
                                                f"({built} days)"))
    with rt.db.engine.connect() as conn:
        # As autovacuum would soon after a build: planner statistics for the new rollup rows.
        conn.execute(text("ANALYZE"))
        conn.commit()
        sizes = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                 ("analytics_daily", "analytics_latency", "analytics_latency_team",
                  "analytics_pii", "analytics_user_months")}
    results.append(("rollup rows", ", ".join(f"{t.removeprefix('analytics_')} {n:,}"
                                             for t, n in sizes.items())))
    now = analytics_rollup.utcnow()
    with rt.db.engine.begin() as conn:  # the morning's drafts arrive
        for i in range(2000):
            conn.execute(text("INSERT INTO drafts (id, tenant_id, user_id, surface, status, "
                              "provider, model, tone, length, language, prompt_tokens, "
                              "completion_tokens, cost_usd, latency_ms, attempts, failovers, "
                              "offline_fallback, text_length, pii_counts, created_at, cached, "
                              "saved_usd) VALUES (:id, :t, :u, 'outlook', 'completed', "
                              "'azure-eu', 'gpt-4o-mini', 'neutral', 'medium', 'en', 1, 1, 0, "
                              "2000, 1, 0, false, 10, '{}', :at, false, 0)"),
                         {"id": uuid.uuid4().hex, "t": TENANT, "u": f"{i % users:032x}",
                          "at": now})
    results.append(("rollup: incremental refresh (today's drafts)",
                    f"{timed(lambda: analytics_rollup.refresh(rt, TENANT, force=True)):.0f} ms"))
    viewer = Principal(idp="local", tenant_id=TENANT, subject="bench",
                       roles=frozenset({"analyst"}))
    analytics_rollup.REFRESH_EVERY_S = 1e9  # measure the reads; refresh is timed above
    for span, extra in ((30, {}), (30, {"team": "Sales"}), (90, {}), (365, {}),
                        (365, {"team": "Sales"}),
                        (365, {"surface": "gmail", "provider": "openai"})):
        filters = analytics.Filters.parse({"from": (end - timedelta(days=span - 1)).isoformat(),
                                           "to": end.isoformat(), **extra}, end)
        ms = timed(lambda: analytics.overview(rt, viewer, filters))
        name = f"overview, {span} days" + (f", {'+'.join(extra)} filter" if extra else "")
        results.append((name, f"{ms:.0f} ms"))
    results.append(("drift (7 vs 28 days)", f"{timed(lambda: analytics.drift(rt, viewer)):.0f} ms"))
    day_sql = ("(created_at AT TIME ZONE 'UTC')::date" if url.startswith("postgresql")
               else "substr(created_at, 1, 10)")
    with rt.db.engine.connect() as conn:
        # What one latency table with a team column would cost the unfiltered page: the year's
        # histogram summed over every team's rows, against the rows already summed over teams.
        since = end - timedelta(days=364)
        for table in ("analytics_latency", "analytics_latency_team"):
            query = text(f"SELECT kind, day, bucket, sum(count) FROM {table} WHERE tenant_id = "
                         f":t AND day >= :since GROUP BY kind, day, bucket").bindparams(
                bindparam("since", type_=Date))
            ms = timed(lambda: conn.execute(query, {"t": TENANT, "since": since}).all())
            results.append((f"latency histogram, 365 days, no filter, read from {table}",
                            f"{ms:.0f} ms"))
        raw = timed(lambda: conn.execute(text(
            f"SELECT {day_sql}, surface, count(*), sum(cost_usd) FROM drafts WHERE tenant_id = "
            f":t GROUP BY 1, 2"), {"t": TENANT}).all(), repeat=1)
    results.append(("without the rollup: one GROUP BY day over raw drafts, 365 days",
                    f"{raw:.0f} ms"))
    rt.close()
    print(f"\n{label}: done", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--db", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    end = date.today()
    tables = {}
    if args.db in ("postgres", "both"):
        admin = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
        name = "replywise_bench_analytics"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
        tables["PostgreSQL"] = bench("PostgreSQL", url, args.users, args.days, end)
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    if args.db in ("sqlite", "both"):
        path = Path(tempfile.mkdtemp()) / "bench.db"
        tables["SQLite"] = bench("SQLite", f"sqlite:///{path}", args.users, args.days, end)
    names = [name for name, _ in next(iter(tables.values()))]
    print("| measurement | " + " | ".join(tables) + " |")
    print("| --- | " + " | ".join("---" for _ in tables) + " |")
    for i, name in enumerate(names):
        print(f"| {name} | " + " | ".join(rows[i][1] for rows in tables.values()) + " |")
    print(json.dumps({"users": args.users, "days": args.days}), file=sys.stderr)


if __name__ == "__main__":
    main()
