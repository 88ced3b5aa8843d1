"""Short PostgreSQL write transactions sent as scripts: several statements per round trip.

Why: a transaction on the draft path (the draft row and its audit event) went out as five
round trips -- BEGIN, three statements, COMMIT -- and after each one a loaded worker's thread
waits for the GIL again. The audit chain head stays locked from the statement that locks it
to COMMIT, so every one of those waits also held up the tenant's other writers. A script is
one simple-protocol message holding several statements; the server runs them in order and
stops at the first error. The simple protocol has no parameters, so the driver binds the
values client-side: each is escaped and quoted as a literal by psycopg, never formatted into
the SQL by us.

SQLite has no round trips to save; its callers keep using sessions. psycopg is imported only
when a script runs: the embedded default installs no PostgreSQL driver.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement

from backend.storage.db import Database

_DIALECT = postgresql.psycopg.dialect()


def render(statement: ClauseElement) -> str:
    """A Core statement as psycopg SQL with %(name)s placeholders, rendered once at import, on
    one line (for the server's log). Every value is a placeholder, so no literal is reflowed."""
    return " ".join(str(statement.compile(dialect=_DIALECT)).split())


def adapt(values: dict[str, Any]) -> dict[str, Any]:
    """Parameters for a script: dicts and lists are JSON columns here, as SQLAlchemy sends them."""
    from psycopg.types.json import Json
    return {k: Json(v) if isinstance(v, (dict, list)) else v for k, v in values.items()}


class Script:
    """Runs scripts on one autocommit connection; the scripts say BEGIN and COMMIT themselves."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._driver = connection.connection.driver_connection

    def run(self, sql: str, params: dict[str, Any]) -> tuple | None:
        """Run the statements in `sql`; return the first row of the last one that has rows."""
        from psycopg import ClientCursor
        dispatch = self._connection.dispatch
        with ClientCursor(self._driver) as cursor:
            # SQLAlchemy's cursor events fire as for its own statements (without an execution
            # context, which its API allows), so statement logging and tracing still see them.
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(self._connection, cursor, sql, params, None, False)
            cursor.execute(sql, params)
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(self._connection, cursor, sql, params, None, False)
            row = cursor.fetchone() if cursor.description else None
            while cursor.nextset():
                if cursor.description:
                    row = cursor.fetchone()
            return row


@contextmanager
def script_session(db: Database) -> Iterator[Script]:
    """A pooled connection for scripts. Any error rolls the open transaction back before the
    connection returns to the pool, and arrives as SQLAlchemy's exception (IntegrityError,
    OperationalError...) as from a session; a connection the server dropped is discarded."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        driver = connection.connection.driver_connection
        try:
            yield Script(connection)
        except _dbapi_error(connection) as exc:
            lost = connection.dialect.is_disconnect(exc, connection.connection.dbapi_connection,
                                                    None)
            if lost:
                connection.invalidate(exc)
            else:
                _roll_back(connection, driver)
            raise DBAPIError.instance(None, None, exc, _dbapi_error(connection),
                                      connection_invalidated=lost) from exc
        except BaseException:
            _roll_back(connection, driver)
            raise


def _dbapi_error(connection: Connection) -> type[Exception]:
    return connection.dialect.loaded_dbapi.Error


def _roll_back(connection: Connection, driver) -> None:
    """End a transaction a failed script left open (a no-op when none is); a connection that
    cannot even roll back is discarded rather than handed to the next request."""
    try:
        driver.rollback()
    except Exception as exc:  # noqa: BLE001 - the original error is what the caller must see
        connection.invalidate(exc)
