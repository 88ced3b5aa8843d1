"""Migration 0005 gives existing installations latency per team without losing latency history.

Each test upgrades its own new database from 0004, on SQLite and on PostgreSQL.
"""
from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, insert, inspect, select, text

from backend.analytics.histogram import bucket_of
from backend.config import Settings
from backend.governance.identity import Principal
from backend.services import analytics, analytics_rollup
from backend.services.runtime import build_runtime
from backend.storage import migrate
from backend.storage.models import Base, LatencyBucket, TeamLatencyBucket
from tests.admin import analytics_support as data
from tests.conftest import POSTGRES_ADMIN_URL, _psycopg_url

PURGED_DAY = date(2025, 2, 10)  # latency rolled up long ago; its drafts are deleted since


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path) -> Iterator[str]:
    """The URL of a new, empty database of each kind, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    name = f"replywise_migration_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def runtime_at_0004(empty_database, tmp_path):
    """A runtime on a database at revision 0004 holding the hand-computed history."""
    migrate.upgrade(empty_database, "0004")
    rt = build_runtime(Settings(data_dir=tmp_path, database_url=empty_database,
                                pseudonym_key=b"test-pseudonym-key-0123456789"))
    data.seed(rt)
    yield rt
    rt.close()


def _team_rows(rt) -> Counter:
    t = TeamLatencyBucket
    with rt.db.session(data.TENANT) as session:
        return Counter(session.execute(select(
            t.day, t.surface, t.team, t.provider, t.kind, t.bucket, t.count)).all())


def test_backfill_writes_the_rows_the_rollup_itself_would_write(runtime_at_0004,
                                                                 empty_database):
    rt = runtime_at_0004
    migrate.upgrade(empty_database)
    backfilled = _team_rows(rt)
    with rt.db.session(data.TENANT) as session:
        analytics_rollup.recompute(session, data.TENANT, [data.D1, data.D2])
    assert backfilled == _team_rows(rt)
    # Sales' four answered drafts, each with a latency and a first token.
    assert sum(count for (_d, _s, team, *_rest, count) in backfilled.elements()
               if team == "Sales") == 8


def test_upgrade_keeps_latency_of_days_whose_drafts_are_gone(runtime_at_0004, empty_database):
    rt = runtime_at_0004
    with rt.db.session(data.TENANT) as session:
        # What the rollup wrote before 0005 for a day retention has since emptied:
        # four drafts between 1500 and 1600 ms.
        session.connection().execute(insert(LatencyBucket.__table__), [dict(
            tenant_id=data.TENANT, day=PURGED_DAY, surface="outlook", provider="azure-eu",
            kind="latency", bucket=bucket_of(1500), count=4)])
    migrate.upgrade(empty_database)
    viewer = Principal(idp="local", tenant_id=data.TENANT, subject="analyst-1",
                       roles=frozenset({"analyst"}))

    def p50(**team):
        filters = analytics.Filters(PURGED_DAY, PURGED_DAY, **team)
        return analytics.overview(rt, viewer, filters).kpis["latency_p50"]

    assert p50() == 1550          # rank 2 of 4 in [1500, 1600)
    assert p50(team="Sales") is None  # no team can be told for drafts that no longer exist
    assert _team_rows(rt)  # the days that still have drafts were backfilled


def test_downgrade_drops_the_team_table_and_upgrade_restores_it(runtime_at_0004,
                                                               empty_database):
    rt = runtime_at_0004
    migrate.upgrade(empty_database)
    migrate.upgrade(empty_database)  # at head already: nothing to do
    command.downgrade(migrate.alembic_config(empty_database), "0004")
    assert "analytics_latency_team" not in inspect(rt.db.engine).get_table_names()
    migrate.upgrade(empty_database)
    assert migrate.is_current(rt.db.engine)
    assert sum(_team_rows(rt).values()) == 10
    indexes = {i["name"] for i in inspect(rt.db.engine).get_indexes("analytics_latency_team")}
    assert {"ix_analytics_latency_team_tenant_day",
            "ix_analytics_latency_team_covering"} <= indexes


def test_migrated_analytics_tables_match_the_models(database_url):
    """Columns and indexes of the rollup tables as the migrations made them, on both databases."""
    engine = create_engine(_psycopg_url(database_url) if database_url.startswith("postgresql")
                           else database_url)
    try:
        with engine.connect() as conn:
            # kb_vectors is outside the ORM (its column type exists only with pgvector).
            context = MigrationContext.configure(conn, opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: not (kind == "table"
                                                           and name == "kb_vectors")})
            differences = [d for d in compare_metadata(context, Base.metadata)
                           if "analytics_" in repr(d)]
    finally:
        engine.dispose()
    assert differences == []
