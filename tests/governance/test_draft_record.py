"""Recording a draft: its row and its audit event commit together or not at all, on both
databases; on PostgreSQL in two round trips, with every failure rolled back and the pooled
connection fit for the next draft."""
from __future__ import annotations

import tempfile
import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, delete, event, func, select, text

from backend.drafting.model import DraftOptions
from backend.errors import Conflict
from backend.governance.identity import LOCAL_IDP, Principal
from backend.providers.llm.base import Usage
from backend.services import accounts, audit_review
from backend.services.drafts_store import save_draft
from backend.storage.models import AuditEvent, AuditHead, Draft, Tenant, User, new_id
from tests.conftest import POSTGRES_ADMIN_URL, _psycopg_url

T = "record-co"


def _save(rt, principal: Principal, **overrides) -> str:
    values = dict(surface="api", status="completed", provider="upstream", model="m",
                  options=DraftOptions(), language="en", usage=Usage(12, 30),
                  cost=Decimal("0.000123"), latency_ms=950, ttft_ms=410, attempts=1,
                  failovers=0, offline_fallback=False, text="Dear Jane, it's on its way.",
                  keep_text=True, pii_counts={"email": 1})
    values.update(overrides)
    return save_draft(rt, principal, **values)


def _principal(rt, subject: str = "writer") -> Principal:
    return accounts.resolve(rt, Principal(idp=LOCAL_IDP, tenant_id=T, subject=subject))


def _counts(rt) -> tuple[int, int, int]:
    """(drafts, audit events, head seq) of the tenant."""
    with rt.db.session(T) as session:
        drafts = session.scalar(select(func.count()).select_from(Draft))
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        head = session.get(AuditHead, T)
    return drafts, events, head.seq if head else 0


def test_a_recorded_draft_has_its_row_and_one_chained_audit_event(rt):
    principal = _principal(rt)
    before = _counts(rt)
    draft_id = _save(rt, principal, text="Über 'quotes'; DROP TABLE drafts; -- fine")
    assert _counts(rt) == (before[0] + 1, before[1] + 1, before[2] + 1)
    with rt.db.session(T) as session:
        draft = session.get(Draft, draft_id)
        event = session.scalars(select(AuditEvent).where(AuditEvent.target_id == draft_id)).one()
    assert draft.text == "Über 'quotes'; DROP TABLE drafts; -- fine"  # a value, never SQL
    assert (draft.prompt_tokens, draft.completion_tokens, draft.cost_usd) == (
        12, 30, Decimal("0.000123"))
    assert draft.pii_counts == {"email": 1} and draft.ttft_ms == 410
    assert draft.created_at.tzinfo is not None
    assert (event.action, event.seq, event.pii_counts) == ("draft.create", before[2] + 1,
                                                           {"email": 1})
    assert event.details["status"] == "completed"
    assert audit_review.verify_tenant(rt, T).ok


def test_a_draft_whose_user_was_erased_meanwhile_leaves_nothing_behind(rt):
    principal, other = _principal(rt, "leaver"), _principal(rt, "stayer")
    with rt.db.engine.begin() as conn:  # what an erasure through another worker does
        conn.execute(delete(User).where(User.id == principal.user_id))
    before = _counts(rt)
    with pytest.raises(Conflict) as refused:
        _save(rt, principal)
    assert refused.value.code == "user_changed"
    assert _counts(rt) == before  # no draft row, no event, the head where it was
    _save(rt, other)  # the pooled connection is fit for the next draft
    assert _counts(rt) == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert audit_review.verify_tenant(rt, T).ok


def test_the_first_event_of_a_tenant_creates_its_chain_head(rt):
    with rt.db.session(all_tenants=True) as session:  # a tenant and user made without events
        session.add(Tenant(id=T, name=T))
        session.flush()
        user = User(id=new_id(), tenant_id=T, idp=LOCAL_IDP, subject="first")
        session.add(user)
    principal = Principal(idp=LOCAL_IDP, tenant_id=T, subject="first", user_id=user.id,
                          roles=frozenset({"user"}))
    _save(rt, principal)
    _save(rt, principal)
    assert _counts(rt) == (2, 2, 2)
    result = audit_review.verify_tenant(rt, T)
    assert result.ok and result.checked == 2


# Round trips and lost connections are client-server matters: SQLite runs in-process.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@on_postgresql
def test_on_postgresql_a_draft_and_its_event_take_two_round_trips(rt, request):
    principal = _principal(rt)
    _save(rt, principal)  # warm: the head row exists, as it does for every later draft
    trace = tempfile.TemporaryFile("w+")
    request.addfinalizer(trace.close)

    def traced(dbapi_connection, _record, _proxy):
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def untraced(dbapi_connection, _record):
        dbapi_connection.pgconn.untrace()

    from psycopg import pq
    event.listen(rt.db.engine, "checkout", traced)
    event.listen(rt.db.engine, "checkin", untraced)
    try:
        _save(rt, principal)
    finally:
        event.remove(rt.db.engine, "checkout", traced)
        event.remove(rt.db.engine, "checkin", untraced)
    trace.seek(0)
    sent = [line.split("\t") for line in trace.read().splitlines() if line.startswith("F\t")]
    # The client's messages: each Query is one round trip (the simple protocol answers every
    # Query, and nothing else was sent that would wait for an answer).
    kinds = [fields[2] for fields in sent]
    assert kinds == ["Query", "Query"], kinds
    first, second = (fields[3] for fields in sent)
    assert first.lstrip(' "').startswith("BEGIN;") and "FOR UPDATE" in first
    assert second.rstrip('" ').endswith("COMMIT")


@on_postgresql
def test_on_postgresql_a_connection_lost_mid_draft_commits_nothing_and_is_replaced(
        rt, postgres_url):
    principal = _principal(rt)
    _save(rt, principal)
    before = _counts(rt)
    database = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(_psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    holder = create_engine(_psycopg_url(postgres_url)).connect()
    holder.execute(text("SELECT 1 FROM audit_heads WHERE tenant_id = :t FOR UPDATE"), {"t": T})
    errors: list[BaseException] = []

    def draft() -> None:
        try:
            _save(rt, principal)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    writer = threading.Thread(target=draft)
    writer.start()
    try:
        # The writer has sent its first script (draft row in, head lock requested) and waits
        # for the lock: its server process dies now, as in a restart or failover.
        waiting = None
        deadline = time.monotonic() + 10
        while waiting is None and time.monotonic() < deadline:
            with admin.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = :d AND wait_event_type "
                    "= 'Lock'"), {"d": database}).scalar()
            time.sleep(0.02)
        assert waiting is not None, "the writer never waited for the head lock"
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": waiting})
        writer.join(timeout=10)
    finally:
        holder.rollback()
        holder.close()
        holder.engine.dispose()
        admin.dispose()
    assert len(errors) == 1
    from sqlalchemy.exc import DBAPIError
    assert isinstance(errors[0], DBAPIError) and errors[0].connection_invalidated
    assert _counts(rt) == before  # its draft row went with its transaction
    _save(rt, principal)  # a fresh connection for the next draft
    assert _counts(rt)[0] == before[0] + 1
    assert audit_review.verify_tenant(rt, T).ok
