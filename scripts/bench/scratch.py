"""A fresh, empty PostgreSQL database for a benchmark run (dropped first if a run left one)."""
from __future__ import annotations


def scratch_postgres(admin_url: str, name: str, *, migrate: bool = False) -> str:
    """Create database `name` next to `admin_url`'s; return its URL, migrated if asked."""
    from sqlalchemy import create_engine, text
    engine = create_engine("postgresql+psycopg://" + admin_url.split("://", 1)[1],
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    if migrate:
        from backend.storage import migrate as migrations
        migrations.upgrade(url)
    return url
