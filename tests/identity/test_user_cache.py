"""Who the caller is, on every request: a cached user is re-checked after the TTL with one
read, and what another worker changed in the meantime (a revoked role, an erasure) holds."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import delete, event, func, select

from backend.governance.identity import LOCAL_IDP, Principal
from backend.services import accounts
from backend.storage.models import RoleGrant, User


def _caller(tenant: str = "acme", subject: str = "sam") -> Principal:
    return Principal(idp=LOCAL_IDP, tenant_id=tenant, subject=subject)


@contextlib.contextmanager
def _statements(rt):
    """The statements the driver ran inside the block: (first word, autocommit). A statement
    in autocommit is one round trip; otherwise the driver also sends BEGIN before it."""
    seen: list[tuple[str, bool]] = []

    def on_execute(conn, _cursor, statement, *_args):
        dbapi = conn.connection.dbapi_connection
        seen.append((" ".join(statement.split()[:2]).upper() if statement.upper().startswith(
            "BEGIN") else statement.split()[0].upper(), bool(getattr(dbapi, "autocommit", False))))

    event.listen(rt.db.engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", on_execute)


@pytest.fixture
def stale_at_once(monkeypatch):
    """Every cached user is past its TTL as soon as it is stored."""
    monkeypatch.setattr(accounts, "_CACHE_TTL_S", -1.0)


def test_a_fresh_cache_entry_costs_no_statement(rt):
    first = accounts.resolve(rt, _caller())
    with _statements(rt) as seen:
        again = accounts.resolve(rt, _caller())
    assert seen == []
    assert (again.user_id, again.roles) == (first.user_id, first.roles)


def test_past_the_ttl_a_known_user_is_rechecked_with_one_read_and_no_write(rt, stale_at_once):
    first = accounts.resolve(rt, _caller())
    with _statements(rt) as seen:
        again = accounts.resolve(rt, _caller())
    assert again.user_id == first.user_id and again.roles == first.roles
    if rt.db.dialect == "postgresql":
        assert seen == [("SELECT", True)]  # outside a transaction: one round trip
    else:  # a reader's BEGIN: no write lock, never queued behind writers
        assert [statement for statement, _ in seen] == ["BEGIN", "SELECT"]
    with rt.db.session(all_tenants=True) as session:  # and nothing was written: one user
        assert session.scalar(select(func.count()).select_from(User)) == 1


def test_a_role_revoked_by_another_worker_stops_working_after_the_ttl(rt, stale_at_once):
    first = accounts.resolve(rt, _caller())
    assert "tenant_admin" in first.roles
    with rt.db.session("acme") as session:  # as another process would: this cache is not told
        session.execute(delete(RoleGrant).where(RoleGrant.user_id == first.user_id,
                                                RoleGrant.role == "tenant_admin"))
    again = accounts.resolve(rt, _caller())
    assert again.user_id == first.user_id
    assert "tenant_admin" not in again.roles and "drafter" in again.roles


def test_a_user_erased_by_another_worker_is_not_resurrected_from_the_cache(rt, stale_at_once):
    first = accounts.resolve(rt, _caller())
    with rt.db.session("acme") as session:
        session.execute(delete(RoleGrant).where(RoleGrant.user_id == first.user_id))
        session.execute(delete(User).where(User.id == first.user_id))
    again = accounts.resolve(rt, _caller())
    # Signing in again after an erasure makes a new, empty account, never the erased one.
    assert again.user_id != first.user_id
    with rt.db.session(all_tenants=True) as session:
        assert session.scalars(select(User.id)).all() == [again.user_id]


def test_the_recheck_reads_only_within_the_callers_tenant(rt, stale_at_once):
    acme = accounts.resolve(rt, _caller("acme", "sam"))
    # The same user id presented under another tenant is not found there: a new user is made.
    assert accounts._recheck(rt, "globex", acme.user_id) is None
    assert accounts._recheck(rt, "acme", acme.user_id) == frozenset(acme.roles)
