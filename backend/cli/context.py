"""What CLI commands share: settings, the runtime, the local principal, JSON output."""
from __future__ import annotations

import json
import sys
from typing import Any

import click

from backend.config import ConfigError, Settings
from backend.governance.identity import LOCAL_IDP, LOCAL_TENANT, Principal
from backend.services import accounts
from backend.services.runtime import Runtime, build_runtime
from backend.storage import migrate


def settings() -> Settings:
    """Settings from the environment, or a clean error naming the bad variable."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def open_runtime() -> Runtime:
    """A runtime whose database schema is current.

    The embedded SQLite default is brought up to date automatically so `replywise draft` works
    on a fresh machine; an external database is never migrated behind an operator's back.
    """
    config = settings()
    rt = build_runtime(config)
    if not migrate.is_current(rt.db.engine):
        if config.database_url:
            rt.close()
            raise click.ClickException("The database schema is not current: run "
                                       "`replywise db upgrade` first.")
        migrate.upgrade(config.resolved_database_url)
    return rt


def local_principal(rt: Runtime, tenant: str = LOCAL_TENANT, user: str = "local-user"
                    ) -> Principal:
    """The person at this terminal, as the local identity."""
    return accounts.resolve(rt, Principal(idp=LOCAL_IDP, tenant_id=tenant, subject=user))


def print_json(data: Any) -> None:
    """Pretty JSON on stdout (UTF-8, non-ASCII kept readable)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
