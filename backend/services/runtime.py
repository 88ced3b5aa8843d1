"""The long-lived objects a process shares: settings, database, providers, keys.

Built once per process by create_app() and reached through `runtime()`; services take it as
their first argument so they can also run from the CLI and tests without Flask.
"""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, current_app

from backend.config import Settings
from backend.governance.audit_chain import Pseudonymizer
from backend.providers.llm.base import LLMProvider
from backend.providers.llm.breaker import BreakerRegistry
from backend.providers.llm.registry import build_provider
from backend.providers.llm.shaping import shape
from backend.services.overload import LagMonitor
from backend.storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Process-wide state. Stateless across requests apart from caches and breakers."""

    settings: Settings
    db: Database
    providers: list[LLMProvider]
    breakers: BreakerRegistry
    pseudonymizer: Pseudonymizer
    caches: dict[str, object] = field(default_factory=dict)
    # Measures only where started (gunicorn workers, after the fork); elsewhere it sheds only
    # what a test tells it to.
    lag_monitor: LagMonitor = field(default_factory=lambda: LagMonitor(0.0))

    def close(self) -> None:
        self.lag_monitor.stop()
        for provider in (*self.providers, self.caches.get("kb_embedder")):
            close = getattr(provider, "close", None)
            if close:
                close()
        redis = self.caches.get("redis")
        if redis is not None:
            from backend.storage.redis_client import close as close_redis
            close_redis(redis)
        self.db.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Create the runtime for these settings (no I/O beyond opening the database pool)."""
    from backend.services import throughput
    from backend.storage.redis_client import connect

    # Shared limits, upstream shaping and the draft cache live in Redis when it is configured.
    redis = connect(settings.redis_url) if settings.redis_url else None
    rt = Runtime(
        settings=settings,
        db=Database(settings.resolved_database_url, pool_size=settings.db_pool_size,
                    max_overflow=settings.db_max_overflow,
                    pool_timeout_s=settings.db_pool_timeout_s),
        providers=shape([build_provider(config) for config in settings.providers],
                        settings.providers, redis, settings.redis_prefix),
        breakers=BreakerRegistry(failure_threshold=settings.breaker_failures,
                                 cooldown_s=settings.breaker_cooldown_s),
        pseudonymizer=Pseudonymizer(settings.pseudonym_key or _local_key(settings.data_dir)),
        caches={"redis": redis} if redis is not None else {},
        lag_monitor=LagMonitor(settings.shed_lag_ms / 1000),
    )
    throughput.install(rt)
    return rt


def _local_key(data_dir: Path) -> bytes:
    # Development only (production refuses to start without REPLYWISE_PSEUDONYM_KEY): a random
    # key kept beside the SQLite file so pseudonyms stay stable across restarts.
    path = data_dir / "pseudonym.key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    path.write_text(key.hex())
    path.chmod(0o600)
    return key


def init_app(app: Flask, settings: Settings) -> None:
    """Attach a Runtime to the app."""
    app.extensions["replywise"] = build_runtime(settings)


def runtime() -> Runtime:
    """The runtime of the current Flask app."""
    return current_app.extensions["replywise"]
