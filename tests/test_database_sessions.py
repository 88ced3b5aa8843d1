"""Database sessions: SQLite readers never queue behind writers; a lost PostgreSQL connection
costs one 503, not a traceback, and the next request gets a fresh connection."""
from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import create_engine, func, select, text

from backend.app import create_app
from backend.config import Settings
from backend.storage.db import Database, make_engine
from backend.storage.models import Draft
from tests.conftest import POSTGRES_ADMIN_URL, _psycopg_url
from tests.web.drafting_support import draft_body


def test_a_sqlite_read_only_session_runs_while_a_writer_holds_the_database(sqlite_url):
    database = Database(sqlite_url)
    writing, done = threading.Event(), threading.Event()

    def writer():
        with database.session("t1") as session:
            session.execute(text("SELECT 1"))
            writing.set()
            done.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        # A writer session here would wait for the writer queue until `done`; a reader doesn't.
        with database.session("t1", read_only=True) as session:
            assert session.scalar(select(func.count()).select_from(Draft)) >= 0
        assert thread.is_alive()
    finally:
        done.set()
        thread.join()
        database.dispose()


def test_a_sqlite_read_only_session_does_not_take_the_write_lock(sqlite_url):
    database = Database(sqlite_url)
    try:
        with database.session("t1", read_only=True) as reader:
            reader.execute(text("SELECT 1"))
            # While the reader's transaction is open, a writer still begins immediately.
            other = sqlite3.connect(sqlite_url.split("///", 1)[1], timeout=0,
                                    isolation_level=None)  # timeout 0: fail rather than wait
            try:
                other.execute("BEGIN IMMEDIATE")  # needs the write lock now
                other.execute("ROLLBACK")
            finally:
                other.close()
    finally:
        database.dispose()


def test_postgres_connections_dropped_by_the_server_cost_one_503_then_recover(postgres_url,
                                                                              tmp_path):
    # PostgreSQL only: connection loss is a client-server matter, SQLite has no server.
    app = create_app(Settings(env="development", data_dir=tmp_path, database_url=postgres_url,
                              pseudonym_key=b"test-pseudonym-key-0123456789",
                              draft_cache_ttl_s=0))
    client = app.test_client()
    assert client.post("/api/v1/drafts", json=draft_body()).status_code == 200
    name = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(_psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a server restart or failover does to the pool
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM "
                                   "pg_stat_activity WHERE datname = :d AND pid <> "
                                   "pg_backend_pid()"), {"d": name}).scalar()
    admin.dispose()
    assert killed >= 1
    statuses = []
    for _ in range(3):
        response = client.post("/api/v1/drafts", json=draft_body())
        statuses.append(response.status_code)
        if response.status_code == 503:
            error = response.get_json()["error"]
            assert error["code"] == "database_unavailable"
            assert response.headers["Retry-After"] == "1"
    # The pooled connection was dead: its request gets the envelope, the pool is renewed.
    assert statuses == [503, 200, 200], statuses
    app.extensions["replywise"].close()


def _draft_while_connections_held(client, rt, count: int):
    """(the response to a draft asked for while `count` pooled connections are taken, how many
    were checked out when it was answered); the connections are given back after."""
    held = [rt.db.engine.connect() for _ in range(count)]
    try:
        response = client.post("/api/v1/drafts", json=draft_body(tone="formal"))
        return response, rt.db.engine.pool.checkedout()
    finally:
        for connection in held:
            connection.close()


def test_an_exhausted_connection_pool_answers_503_database_busy(postgres_url, tmp_path):
    app = create_app(Settings(env="development", data_dir=tmp_path, database_url=postgres_url,
                              pseudonym_key=b"test-pseudonym-key-0123456789",
                              draft_cache_ttl_s=0, db_pool_size=1, db_pool_timeout_s=0.2))
    client = app.test_client()
    rt = app.extensions["replywise"]
    assert client.post("/api/v1/drafts", json=draft_body()).status_code == 200
    response, _ = _draft_while_connections_held(client, rt, 3)  # pool 1 + overflow 2
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_busy"
    assert response.headers["Retry-After"] == "2"
    assert client.post("/api/v1/drafts", json=draft_body(tone="direct")).status_code == 200
    rt.close()


def test_with_no_overflow_a_worker_never_opens_more_than_its_pool(postgres_url, tmp_path):
    """REPLYWISE_DB_MAX_OVERFLOW=0: the pool is a hard cap on a worker's connections, so
    workers x pool can be fitted under PostgreSQL's max_connections; a burst waits for a
    pooled connection and, past the pool timeout, gets 503 database_busy."""
    settings = Settings.from_env({"REPLYWISE_DATABASE_URL": postgres_url,
                                  "REPLYWISE_DATA_DIR": str(tmp_path),
                                  "REPLYWISE_PSEUDONYM_KEY": "test-pseudonym-key-0123456789",
                                  "REPLYWISE_DRAFT_CACHE_TTL_S": "0",
                                  "REPLYWISE_DB_POOL_SIZE": "2", "REPLYWISE_DB_MAX_OVERFLOW": "0",
                                  "REPLYWISE_DB_POOL_TIMEOUT_S": "0.2"})
    assert settings.db_max_overflow == 0
    app = create_app(settings)
    rt = app.extensions["replywise"]
    client = app.test_client()
    assert client.post("/api/v1/drafts", json=draft_body()).status_code == 200
    response, checked_out = _draft_while_connections_held(client, rt, 2)  # the whole pool
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_busy"
    assert checked_out == 2  # no third connection was opened
    assert client.post("/api/v1/drafts", json=draft_body(tone="direct")).status_code == 200
    rt.close()


def test_by_default_a_burst_may_open_twice_the_pool_more(postgres_url, tmp_path):
    database = Database(postgres_url, pool_size=1, pool_timeout_s=0.2)
    try:
        held = [database.engine.connect() for _ in range(3)]
        assert database.engine.pool.checkedout() == 3
        for connection in held:
            connection.close()
    finally:
        database.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_pooled_connections_get_lifetimes_of_their_own(postgres_url):
    """A worker opens its whole pool at once; one fixed age limit renewed every connection in
    the same minute, each new server process starting cold."""
    engine = make_engine(postgres_url, pool_size=8, max_overflow=0, recycle_s=1000)
    try:
        opened = time.monotonic()
        held = [engine.connect() for _ in range(8)]
        lifetimes = [c.connection.info["retire_at"] - opened for c in held]
        for connection in held:
            connection.close()
    finally:
        engine.dispose()
    assert all(740 <= lifetime <= 1001 for lifetime in lifetimes), lifetimes
    assert len({round(lifetime) for lifetime in lifetimes}) > 1  # not all at once


def test_a_connection_past_its_lifetime_is_replaced_when_checked_out(postgres_url):
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0, recycle_s=0.4)
    lasting = make_engine(postgres_url, pool_size=1, max_overflow=0, recycle_s=60)
    try:
        first, again = _backend_pid(engine), _backend_pid(engine)
        time.sleep(0.45)  # past any lifetime drawn from 0.3-0.4 s
        renewed = _backend_pid(engine)
        assert first == again != renewed  # same server process until it was due, then a new one
        assert engine.pool.checkedout() == 0 and _backend_pid(engine) == renewed
        kept = _backend_pid(lasting)
        time.sleep(0.45)
        assert _backend_pid(lasting) == kept
    finally:
        engine.dispose()
        lasting.dispose()
