"""Recording a draft: its row and its audit event commit together or not at all, on both
databases; on PostgreSQL in one round trip, the event sealed by the server, with every failure
rolled back and the pooled connection fit for the next draft."""
from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, delete, event, func, select, text

from backend.drafting.model import DraftOptions
from backend.errors import Conflict
from backend.governance import audit_chain
from backend.governance.identity import LOCAL_IDP, Principal
from backend.providers.llm.base import Usage
from backend.services import accounts, audit, audit_review
from backend.services.drafts_store import save_draft
from backend.storage.models import (AuditCheckpoint, AuditEvent, AuditHead, Draft, Tenant, User,
                                    new_id)
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


TRICKY = "é 漢字 🙂 \"q\" back\\slash '; DROP TABLE audit_events; --"


def test_a_drafts_event_hashes_as_the_chain_does_whatever_its_text_holds(rt):
    # On PostgreSQL the server hashes the event from parts made here: the bytes must agree.
    principal = replace(_principal(rt), user_agent=f"Outlook {TRICKY}")
    tricky = dict(model=f"m {TRICKY}", provider=f"p {TRICKY}"[:64], status=TRICKY[:16])
    drafted = {_save(rt, principal, **tricky) for _ in range(11)}  # seq 9 -> 10 and on
    with rt.db.session(T) as session:
        events = list(audit.iter_events(session))
    ours = [e for e in events if e["target_id"] in drafted]
    assert len(ours) == 11
    for event in ours:
        assert (event["user_agent"], event["model"], event["provider"]) == (
            f"Outlook {TRICKY}", tricky["model"], tricky["provider"])
        assert event["details"]["status"] == tricky["status"]
        assert event["hash"] == audit_chain.event_hash(event["prev_hash"], event)
    assert audit_chain.verify_chain(events).ok
    assert audit_review.verify_tenant(rt, T).ok


# Round trips and lost connections are client-server matters: SQLite runs in-process.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@on_postgresql
def test_on_postgresql_a_draft_and_its_event_take_one_round_trip(rt, request):
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
    assert kinds == ["Query"], kinds
    script = sent[0][3]
    assert script.lstrip(' "').startswith("BEGIN;") and script.rstrip('" ').endswith("COMMIT")
    assert "FOR UPDATE" in script and "sha256(" in script  # the server seals the event


def _drafting_in_a_thread(rt, principal: Principal) -> tuple[threading.Thread,
                                                              list[BaseException]]:
    """A started thread saving one draft, and the list its exception (if any) lands in."""
    errors: list[BaseException] = []

    def draft() -> None:
        try:
            _save(rt, principal)
        except BaseException as exc:  # noqa: BLE001 - the caller asserts on it
            errors.append(exc)

    writer = threading.Thread(target=draft)
    writer.start()
    return writer, errors


def _pid_waiting_for_a_lock(admin, database: str) -> int:
    """The server process of the one connection to `database` that waits for a lock."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            waiting = conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND wait_event_type "
                "= 'Lock'"), {"d": database}).scalar()
        if waiting is not None:
            return waiting
        time.sleep(0.02)
    raise AssertionError("the writer never waited for the head lock")


@on_postgresql
def test_on_postgresql_a_connection_lost_mid_draft_commits_nothing_and_is_replaced(
        rt, postgres_url):
    principal = _principal(rt)
    _save(rt, principal)
    before = _counts(rt)
    admin = create_engine(_psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    holder = create_engine(_psycopg_url(postgres_url)).connect()
    holder.execute(text("SELECT 1 FROM audit_heads WHERE tenant_id = :t FOR UPDATE"), {"t": T})
    writer, errors = _drafting_in_a_thread(rt, principal)
    try:
        # The writer has sent its script (draft row in, head lock requested) and waits for
        # the lock: its server process dies now, as in a restart or failover.
        waiting = _pid_waiting_for_a_lock(admin, postgres_url.rsplit("/", 1)[1])
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


@on_postgresql
def test_on_postgresql_a_draft_that_waited_for_the_head_follows_the_event_committed_meanwhile(
        rt, postgres_url):
    principal, other = _principal(rt), _principal(rt, "other")
    _save(rt, principal)
    admin = create_engine(_psycopg_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with rt.db.session(T) as session:  # another writer holds the head...
            session.execute(text("SELECT 1 FROM audit_heads WHERE tenant_id = :t FOR UPDATE"),
                            {"t": T})
            writer, errors = _drafting_in_a_thread(rt, principal)
            _pid_waiting_for_a_lock(admin, postgres_url.rsplit("/", 1)[1])
            # ...and moves it while the draft's statement, its snapshot already taken, waits.
            meanwhile = audit.record(rt, session, other, "audit.verify",
                                     details={"checked": 0, "ok": True})
        writer.join(timeout=10)
    finally:
        admin.dispose()
    assert errors == []
    with rt.db.session(T) as session:
        newest = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (newest.action, newest.seq, newest.prev_hash) == (
        "draft.create", meanwhile["seq"] + 1, meanwhile["hash"])
    assert audit_review.verify_tenant(rt, T).ok


def _signing(make_app, every: int):
    """A runtime that signs a checkpoint every `every` events, and its key."""
    key = audit_chain.generate_signing_key_b64()
    app = make_app(audit_signing_key=key, audit_checkpoint_every=every)
    return app.extensions["replywise"], audit_chain.load_signing_key(key)


def _checkpoints(rt) -> list[dict]:
    with rt.db.session(T) as session:
        return [{"tenant_id": c.tenant_id, "seq": c.seq, "head_hash": c.head_hash,
                 "created_at": audit.iso(c.created_at), "key_id": c.key_id,
                 "signature": c.signature}
                for c in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))]


@on_postgresql
def test_on_postgresql_concurrent_drafts_of_one_tenant_keep_one_gapless_chain(make_app):
    rt, _key = _signing(make_app, every=7)
    threads, per_thread = 8, 25
    principals = [_principal(rt, f"w{i}") for i in range(threads)]
    before = _counts(rt)
    start, errors = threading.Barrier(threads), []

    def work(principal: Principal) -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                _save(rt, principal)
        except Exception as exc:  # noqa: BLE001 - a thread's exception is otherwise lost
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(p,)) for p in principals]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    drafts, events, head = _counts(rt)
    assert (drafts, events) == (before[0] + threads * per_thread,
                                before[1] + threads * per_thread)
    result = audit_review.verify_tenant(rt, T)  # seq 1..head without a gap, signatures good
    assert result.ok and result.checked == events == head, result.first_bad
    assert [c["seq"] for c in _checkpoints(rt)] == list(range(7, head + 1, 7))


@on_postgresql
def test_on_postgresql_a_draft_that_reaches_a_checkpoint_writes_it_signed(make_app):
    rt, key = _signing(make_app, every=3)
    principal = _principal(rt)
    for _ in range(5):
        _save(rt, principal)
    head = _counts(rt)[2]
    with rt.db.session(T) as session:
        events = {e["seq"]: e for e in audit.iter_events(session)}
    checkpoints = _checkpoints(rt)
    assert [c["seq"] for c in checkpoints] == list(range(3, head + 1, 3))
    for checkpoint in checkpoints:
        assert events[checkpoint["seq"]]["action"] == "draft.create"
        assert checkpoint["head_hash"] == events[checkpoint["seq"]]["hash"]
        assert audit_chain.verify_checkpoint(checkpoint, key.public_key())
    assert audit_review.verify_tenant(rt, T).ok


@on_postgresql
def test_on_postgresql_a_checkpoint_that_cannot_be_written_leaves_its_draft_saved(
        make_app, caplog):
    rt, _key = _signing(make_app, every=3)
    principal = _principal(rt)
    before = _counts(rt)
    assert before[2] == 1  # user.create; the drafts below are seq 2-4 (3 is due), then 5-7
    refuse = text("ALTER TABLE audit_checkpoints ADD CONSTRAINT refuse_new CHECK (false) "
                  "NOT VALID")  # the server refuses every new checkpoint, as on a full disk
    with rt.db.engine.begin() as conn:
        conn.execute(refuse)
    try:
        with caplog.at_level(logging.WARNING, logger="backend.services.drafts_store"):
            for _ in range(3):
                _save(rt, principal)
    finally:
        with rt.db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_checkpoints DROP CONSTRAINT refuse_new"))
    assert _counts(rt) == (before[0] + 3, before[1] + 3, before[2] + 3)
    assert _checkpoints(rt) == []
    assert [r.getMessage() for r in caplog.records] == ["audit checkpoint not written"]
    assert audit_review.verify_tenant(rt, T).ok  # checkpoints are checked where they exist
    for _ in range(3):
        _save(rt, principal)  # the connection is fit, and the next due checkpoint is written
    assert [c["seq"] for c in _checkpoints(rt)] == [6]
