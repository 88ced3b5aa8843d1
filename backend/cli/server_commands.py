"""`replywise serve` and `replywise db`."""
from __future__ import annotations


import gc
import os
import sys

import click

from backend.cli.context import settings
from backend.storage import migrate


def register(cli: click.Group) -> None:
    cli.add_command(serve)
    cli.add_command(db)


@click.command()
@click.option("--host", default=None, help="Interface to bind (default REPLYWISE_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default REPLYWISE_PORT or 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (default REPLYWISE_WORKERS).")
@click.option("--threads", type=int, default=None, help="Threads per worker (default REPLYWISE_THREADS).")
@click.option("--dev", is_flag=True, help="Flask's development server with the reloader.")
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None,
          dev: bool) -> None:
    """Run the Replywise service."""
    config = settings()
    changes = {k: v for k, v in {"host": host, "port": port, "workers": workers,
                                 "threads": threads}.items() if v is not None}
    config = config.with_overrides(**changes)
    base = f"http://{config.host}:{config.port}"
    click.echo(f"Replywise is starting on {base}\n"
               f"  open:     {base}/addin/taskpane.html  (the Outlook pane as a playground)\n"
               f"  admin:    {base}/admin  (usage analytics)\n"
               f"  health:   {base}/healthz\n"
               f"  API:      {base}/api/v1/openapi.json\n"
               f"  try it:   replywise draft samples/invoice-question.eml --stream  (or POST {base}/api/v1/drafts)\n"
               f"  drafter:  {'offline (no provider configured)' if not config.providers else ', '.join(p.name for p in config.providers)}",
               err=True)
    from backend.app import create_app
    if dev:
        create_app(config).run(host=config.host, port=config.port, debug=True, threaded=True)
        return
    _gunicorn(config)


def _gunicorn(config) -> None:
    from gunicorn.app.base import BaseApplication

    from backend.services import metrics

    config = metrics.gunicorn_setup(config)  # request metrics shared by workers (docs/analytics.md)

    class _App(BaseApplication):
        def load_config(self) -> None:
            # Worker model: drafting requests spend seconds waiting on an LLM and stream while
            # they wait, so a process per request (sync workers) would hold a whole process
            # idle per user. gthread keeps a few processes (docs/deploy.md, Sizing) each with many
            # threads: waiting threads cost little memory, the GIL is released during network
            # I/O, and the openai client, SQLAlchemy and psycopg need no monkey-patching (which
            # gevent would). Threads per worker bound the concurrent drafts and, with
            # BoundedThreadWorker, the connections (docs/adr/0001-gthread-workers.md).
            self.cfg.set("bind", f"{config.host}:{config.port}")
            self.cfg.set("workers", config.workers)
            # gthread, with no more connections per worker than threads (see the class).
            self.cfg.set("worker_class", "backend.cli.gthread_worker.BoundedThreadWorker")
            self.cfg.set("threads", config.threads)
            # A streamed draft may legitimately last the whole draft deadline.
            self.cfg.set("timeout", int(config.draft_deadline_s) + 30)
            self.cfg.set("graceful_timeout", int(config.draft_deadline_s) + 5)
            self.cfg.set("keepalive", 5)
            # The heartbeat touches a file on every loop turn of every worker; on tmpfs that
            # is a memory write, on a disk filesystem a journaled metadata update.
            if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
                self.cfg.set("worker_tmp_dir", "/dev/shm")
            self.cfg.set("accesslog", None)  # the app logs requests as JSON with request ids
            self.cfg.set("child_exit", lambda _server, worker: metrics.worker_exited(
                worker.pid, config.metrics_multiproc_dir))

        def load(self):
            return worker_app(config)

    _App().run()


def worker_app(config):
    """The WSGI app of one gunicorn worker, built in the worker after the fork."""
    from backend.app import create_app
    # After each database or Redis round trip, and each upstream chunk, the thread must win
    # the GIL back; the switch interval bounds how long another thread's work can hold it up.
    # (On SQLite a draft's write still holds the tenant's audit lock across that wait; on
    # PostgreSQL the server seals the event in one statement, docs/adr/0007.) With hundreds of
    # streams per worker the forced switches of a short interval cost more than they save: see
    # the REPLYWISE_GIL_SWITCH_INTERVAL_MS measurements in docs/benchmarks.md (issue 7).
    sys.setswitchinterval(config.gil_switch_interval_ms / 1000)
    app = create_app(config)
    freeze_startup_heap()
    start_lag_monitor(app.extensions["replywise"])
    return app


def start_lag_monitor(rt) -> None:
    """Measure this worker's lag, publish it to /metrics, and shed new drafts when it is far
    behind (backend/services/overload.py). Started after the fork: threads do not survive one."""
    from backend.services import metrics
    # It runs with shedding off too (REPLYWISE_SHED_LAG_MS=0): the lag is worth watching.
    rt.lag_monitor.report = lambda seconds: metrics.set_worker_lag(rt, seconds)
    rt.lag_monitor.start()


def freeze_startup_heap() -> None:
    """Exempt what the worker built at start-up (modules, the app, compiled SQL and schemas:
    some 120,000 objects that live as long as the worker) from the cyclic garbage collector.

    Every pass holds the GIL, and every stream of the worker stalls for its length: a full pass
    over the start-up heap cost 85 ms of CPU, and full passes in a worker holding 200 streams
    took 150-600 ms (docs/benchmarks.md, issue 7). Frozen objects are still freed by reference
    counting; only cycles among them would never be collected, and start-up objects are not
    garbage before the worker exits.
    """
    gc.collect()
    gc.freeze()


@click.group()
def db() -> None:
    """Database schema management."""


@db.command()
def upgrade() -> None:
    """Apply database migrations up to the newest."""
    config = settings()
    migrate.upgrade(config.resolved_database_url)
    click.echo(f"database is at revision {migrate.head_revision()}", err=True)


@db.command()
def current() -> None:
    """Print the database's revision and the code's."""
    from backend.storage.db import Database
    database = Database(settings().resolved_database_url)
    try:
        click.echo(f"database: {migrate.current_revision(database.engine)}\n"
                   f"code:     {migrate.head_revision()}")
    finally:
        database.dispose()


