"""Engine and sessions. Services open one transaction per use-case with `Database.session()`."""
from __future__ import annotations

from collections.abc import Iterator
import fcntl
import os
import random
import threading
import time
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from backend.storage import scoping


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10,
                max_overflow: int | None = None, pool_timeout_s: float = 10.0,
                recycle_s: float = 1800.0) -> Engine:
    """Create the engine with per-dialect settings that matter for concurrent writers."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False,
                                                             "timeout": 30})
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # No pool_pre_ping: it costs a round trip on every checkout, on every draft. A connection
    # the server dropped fails its statement instead; SQLAlchemy then sees the disconnect and
    # invalidates the whole pool, so only requests already in flight see the error (503), and
    # each connection is retired after its own lifetime (_stagger_recycling) before server or
    # proxy idle timeouts close it.
    # A request that waits pool_timeout_s for a connection gets 503 database_busy: past that,
    # waiting longer only makes every queued request slower (docs/deploy.md sizes the pool).
    # Overflow connections are opened for a burst and closed after it; where PostgreSQL's
    # max_connections cannot take every worker's pool plus overflow, an operator sets the
    # overflow to 0, so a burst waits for a pooled connection rather than failing with "too
    # many clients" and paying a new server process per checkout.
    engine = create_engine(url, echo=echo, pool_size=pool_size,
                           max_overflow=pool_size * 2 if max_overflow is None else max_overflow,
                           pool_recycle=-1, pool_timeout=pool_timeout_s)
    _stagger_recycling(engine, recycle_s)
    return engine


def _stagger_recycling(engine: Engine, lifetime_s: float) -> None:
    """Retire each pooled connection after its own lifetime, drawn between three quarters of
    `lifetime_s` and all of it, so they are renewed before server or proxy idle timeouts.

    Why not pool_recycle: it gives every connection the same age limit, and a worker opens its
    whole pool in its first seconds, so every worker renewed every connection in the same
    minute, each new server process starting with cold caches. In the load benchmark that
    minute came 30 minutes into the run and had the run's worst tail (docs/benchmarks.md,
    issue 7, session 8). Raising DisconnectionError at checkout is SQLAlchemy's documented way
    to have the pool replace a connection before handing it out."""
    @event.listens_for(engine, "connect")
    def _born(_dbapi_conn, record) -> None:
        record.info["retire_at"] = time.monotonic() + lifetime_s * (0.75 + random.random() / 4)

    @event.listens_for(engine, "checkout")
    def _retire_when_due(_dbapi_conn, record, _proxy) -> None:
        if time.monotonic() >= record.info.get("retire_at", float("inf")):
            raise DisconnectionError("pooled connection reached its lifetime")


# Set while a read-only session begins, so the SQLite begin hook takes no write lock.
_READ_ONLY: ContextVar[bool] = ContextVar("replywise_read_only", default=False)


def _configure_sqlite(engine: Engine) -> None:
    # SQLite allows one writer. WAL lets readers proceed during a write, and BEGIN IMMEDIATE
    # takes the write lock up front: a transaction that reads and then writes (the audit chain
    # head) can never deadlock on a lock upgrade; it waits up to busy_timeout instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A reader needs no write lock: in WAL mode it sees one consistent snapshot and runs
        # beside the writer.
        conn.exec_driver_sql("BEGIN" if _READ_ONLY.get() else "BEGIN IMMEDIATE")


class _SqliteWriterQueue:
    """Orders SQLite writers across threads and processes with an OS file lock.

    SQLite's own busy handler retries with sleeps of up to 100 ms, so under load from several
    gunicorn workers a transaction could wait far longer than the lock is held. A blocking
    flock() wakes the next writer the moment the previous one finishes. Each transaction opens
    its own descriptor because flock() conflicts between open files, even within one process.
    """

    def __init__(self, database_path: str):
        self._path = database_path + ".writer-lock"
        self._held = threading.local()

    @contextmanager
    def turn(self) -> Iterator[None]:
        if getattr(self._held, "yes", False):
            # A second transaction in the same thread would wait forever for the first.
            raise RuntimeError("nested database transaction in one thread")
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._held.yes = True
            yield
        finally:
            self._held.yes = False
            os.close(fd)  # closing releases the lock, also after errors


class Database:
    """Owns the engine and hands out tenant-scoped sessions."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10,
                 max_overflow: int | None = None, pool_timeout_s: float = 10.0):
        self.url = url
        self.engine = make_engine(url, echo=echo, pool_size=pool_size, max_overflow=max_overflow,
                                  pool_timeout_s=pool_timeout_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
        self._writers = _SqliteWriterQueue(path) if path and path != ":memory:" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self, tenant_id: str | None = None, *, all_tenants: bool = False,
                read_only: bool = False) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error, so nothing half-written.

        `read_only` is for sessions that only read: on SQLite they skip the writer queue and
        the write lock, so reads on the draft path never wait behind writers.
        """
        session = self._sessions()
        scoping.bind(session, tenant_id, all_tenants=all_tenants)
        try:
            if read_only:
                with session.begin():
                    token = _READ_ONLY.set(True)
                    try:
                        session.connection()  # begin now, while the begin hook sees the flag
                    finally:
                        _READ_ONLY.reset(token)
                    yield session
                return
            with self._writers.turn() if self._writers else nullcontext():
                with session.begin():
                    yield session
        finally:
            session.close()

    def read(self, statement, params: dict | None = None) -> list:
        """The rows of one read-only statement, for reads on every request's path.

        PostgreSQL runs it outside a transaction (autocommit): one round trip instead of BEGIN,
        the statement and COMMIT, each of which a loaded worker's thread must wait for the GIL
        again after. SQLite reads in a read-only session (no write lock, no writer queue).
        """
        if self.dialect == "sqlite":
            with self.session(read_only=True) as session:
                return list(session.connection().execute(statement, params or {}))
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return list(conn.execute(statement, params or {}))

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

