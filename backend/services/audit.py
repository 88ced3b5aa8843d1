"""Appending to and reading the tamper-evident audit trail.

Events are appended inside the caller's transaction, so an action and its audit event commit or
roll back together. Writers of one tenant are serialised on that tenant's chain head: PostgreSQL
locks the audit_heads row (SELECT ... FOR UPDATE), SQLite's BEGIN IMMEDIATE already admits one
writer at a time. Either way each event links to exactly one predecessor.

A draft's event on PostgreSQL is sealed by the server instead (APPEND_SEALED_BY_SERVER_SQL,
docs/adr/0007): Python hashes what it knows, PostgreSQL the head it locks, in one statement.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from functools import reduce
from typing import Any

from sqlalchemy import (LargeBinary, String, Text, bindparam, cast, func, insert, literal_column,
                        select)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from backend.governance import audit_chain, audit_sealing
from backend.governance.identity import Principal
from backend.logs import current_request_id
from backend.services.runtime import Runtime
from backend.storage import pg_script
from backend.storage.models import AuditCheckpoint, AuditEvent, AuditHead, new_id, utcnow

log = logging.getLogger(__name__)


def actor_pseudonym(rt: Runtime, principal: Principal) -> str:
    """The keyed pseudonym that stands for this person in audit events."""
    return rt.pseudonymizer.pseudonym("user", f"{principal.idp}:{principal.tenant_id}:"
                                              f"{principal.subject}")


def record(rt: Runtime, session: Session, principal: Principal, action: str,
           **fields: Any) -> dict[str, Any]:
    """Append one event to the principal's tenant chain within `session`'s transaction.

    `fields`: result ("success"), target (type, id), provider, model, prompt_tokens,
    completion_tokens, cost_usd, pii_counts, details -- as `event_body` takes them.
    """
    prev_seq, prev_hash = _lock_head(session, principal.tenant_id)
    event = new_event(rt, principal, action, prev_seq, prev_hash, **fields)
    # Core statements, not ORM objects: this runs on every draft on SQLite, and the unit of
    # work costs more than the two inserts themselves.
    connection = session.connection()
    params = _append_params(event)
    if connection.dialect.name == "postgresql":  # one round trip instead of two
        connection.execute(_APPEND_AND_MOVE_HEAD, params)
    else:
        connection.execute(_INSERT_EVENT, {k[2:]: v for k, v in params.items()
                                           if k.startswith("e_")})
        connection.execute(_MOVE_HEAD, params)
    checkpoint = _checkpoint_due(rt, event["tenant_id"], event["seq"], event["hash"])
    if checkpoint is not None:
        connection.execute(_INSERT_CHECKPOINT, checkpoint)
    return event


def new_event(rt: Runtime, principal: Principal, action: str, prev_seq: int, prev_hash: str,
              **fields: Any) -> dict[str, Any]:
    """The sealed event that follows (prev_seq, prev_hash) in the principal's tenant chain."""
    event = event_body(rt, principal, action, **fields)
    event.update(seq=prev_seq + 1, prev_hash=prev_hash)
    event["hash"] = audit_chain.event_hash(prev_hash, event)
    return event


def event_body(rt: Runtime, principal: Principal, action: str, *, result: str = "success",
               target: tuple[str, str] | None = None, provider: str | None = None,
               model: str | None = None, prompt_tokens: int | None = None,
               completion_tokens: int | None = None, cost_usd: Decimal | None = None,
               pii_counts: dict[str, int] | None = None,
               details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every field of a new event except its place in the chain (seq, prev_hash, hash)."""
    return {
        "event_id": new_id(), "tenant_id": principal.tenant_id,
        "occurred_at": iso(utcnow()), "actor": actor_pseudonym(rt, principal),
        "actor_roles": sorted(principal.roles), "action": action,
        "target_type": target[0] if target else None,
        "target_id": target[1] if target else None, "request_id": current_request_id(),
        "client_ip": rt.pseudonymizer.client_ip(principal.client_ip),
        "user_agent": principal.user_agent[:300] if principal.user_agent else None,
        "result": result, "provider": provider, "model": model,
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "cost_usd": None if cost_usd is None else format(cost_usd, "f"),
        "pii_counts": dict(pii_counts or {}),
        "details": audit_chain.redact_free_text_guard(dict(details or {})),
    }


def sealed_by_server(rt: Runtime, principal: Principal, action: str,
                     **fields: Any) -> dict[str, Any]:
    """Parameters for APPEND_SEALED_BY_SERVER_SQL: an event for the principal's tenant chain
    that PostgreSQL seals itself, under the head's lock, from the canonical parts hashed here
    around the seq and prev_hash it reads from the head."""
    event = event_body(rt, principal, action, **fields)
    before_prev, before_seq, after_seq = audit_sealing.canonical_parts(event)
    return {**_event_params(event), "h_tenant": principal.tenant_id,
            **_GENESIS_HEAD, "h_before_prev": b"\n" + before_prev, "h_before_seq": before_seq,
            "h_after_seq": after_seq}


def checkpoint_params(rt: Runtime, tenant_id: str, seq: int,
                      head_hash: str) -> dict[str, Any] | None:
    """Parameters for CHECKPOINT_SQL when the head (seq, head_hash) is due a signed checkpoint."""
    checkpoint = _checkpoint_due(rt, tenant_id, seq, head_hash)
    return None if checkpoint is None else {f"c_{k}": v for k, v in checkpoint.items()}


def _event_params(event: dict[str, Any]) -> dict[str, Any]:
    return {f"e_{k}": parse_iso(v) if k == "occurred_at" else v for k, v in event.items()}


def _append_params(event: dict[str, Any]) -> dict[str, Any]:
    return {**_event_params(event), "head_tenant": event["tenant_id"],
            "head_seq": event["seq"], "head_hash": event["hash"]}


def _checkpoint_due(rt: Runtime, tenant_id: str, seq: int,
                    head_hash: str) -> dict[str, Any] | None:
    """The signed checkpoint's columns when this head is due one (every N, with a key)."""
    key = signing_key(rt)
    if key is None or seq % rt.settings.audit_checkpoint_every:
        return None
    return checkpoint_values(tenant_id, seq, head_hash, key)


# Statements built once with bind parameters, so SQLAlchemy compiles them once per process.
_INSERT_EVENT = AuditEvent.__table__.insert()
_INSERT_CHECKPOINT = AuditCheckpoint.__table__.insert().inline()  # no RETURNING of the id
_MOVE_HEAD = (AuditHead.__table__.update()
              .where(AuditHead.__table__.c.tenant_id == bindparam("head_tenant"))
              .values(seq=bindparam("head_seq"), hash=bindparam("head_hash")))
# PostgreSQL runs a data-modifying CTE with the statement it belongs to, in one snapshot. The
# event's parameters are prefixed: SQLAlchemy would otherwise also SET any audit_heads column
# whose name appears among the parameters (tenant_id, seq, hash) in the nested UPDATE.
_EVENT_KEYS = ("event_id", "tenant_id", "seq", "occurred_at", "actor", "actor_roles", "action",
               "target_type", "target_id", "request_id", "client_ip", "user_agent", "result",
               "provider", "model", "prompt_tokens", "completion_tokens", "cost_usd",
               "pii_counts", "details", "prev_hash", "hash")
_APPEND_AND_MOVE_HEAD = (AuditEvent.__table__.insert()
                         .values({k: bindparam(f"e_{k}") for k in _EVENT_KEYS})
                         .add_cte(_MOVE_HEAD.cte("moved_head")))
_CHECKPOINT_KEYS = ("tenant_id", "seq", "head_hash", "created_at", "key_id", "signature")
# For PostgreSQL scripts (storage.pg_script), rendered once: a checkpoint on its own.
CHECKPOINT_SQL = pg_script.render(AuditCheckpoint.__table__.insert().inline().values(
    {k: bindparam(f"c_{k}") for k in _CHECKPOINT_KEYS}))


_HEADS = AuditHead.__table__
# Core statements on the session's connection: the ORM's per-statement work cost more than the
# round trip on every draft, and the tenant is named explicitly anyway.
_OF_TENANT = _HEADS.c.tenant_id == bindparam("h_tenant")
_READ_HEAD = select(_HEADS.c.seq, _HEADS.c.hash).where(_OF_TENANT)
_LOCK_HEAD = _READ_HEAD.with_for_update()
# The tenant's first event makes its head: (0, genesis), unless another writer just did.
_START_HEAD = pg_insert(_HEADS).values(tenant_id=bindparam("h_tenant"),
                                       seq=bindparam("h_genesis_seq"),
                                       hash=bindparam("h_genesis_hash")).on_conflict_do_nothing()
_GENESIS_HEAD = {"h_genesis_seq": 0, "h_genesis_hash": audit_chain.GENESIS_HASH}


def _lock_head(session: Session, tenant_id: str) -> tuple[int, str]:
    """The tenant's (seq, hash), locked for this transaction; the head row is created once."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        row = connection.execute(_LOCK_HEAD, {"h_tenant": tenant_id}).first()
        if row is None:
            connection.execute(_START_HEAD, {"h_tenant": tenant_id, **_GENESIS_HEAD})
            row = connection.execute(_LOCK_HEAD, {"h_tenant": tenant_id}).one()
        return row.seq, row.hash
    # SQLite: BEGIN IMMEDIATE already made this transaction the only writer.
    row = connection.execute(_READ_HEAD, {"h_tenant": tenant_id}).first()
    if row is None:
        connection.execute(insert(AuditHead).values(tenant_id=tenant_id, seq=0,
                                                    hash=audit_chain.GENESIS_HASH))
        return 0, audit_chain.GENESIS_HASH
    return row.seq, row.hash


# --- events sealed by PostgreSQL (the draft path, ADR 7) ------------------------------------
# One statement locks the tenant's head, hashes the event with the server's sha256() from the
# canonical parts Python made around seq and prev_hash (sealed_by_server), inserts it and
# moves the head. The script's COMMIT follows at once, so the head is locked only while the
# server runs the two: never across a round trip or a wait for the GIL.

def _utf8(text_value):
    return func.convert_to(text_value, literal_column("'UTF8'"), type_=LargeBinary)


def _joined(*parts):
    """bytea concatenation (||)."""
    return reduce(lambda left, right: left.op("||", return_type=LargeBinary)(right), parts)


def _part(name: str):
    return bindparam(name, type_=LargeBinary)


_NEXT = (select((_HEADS.c.seq + literal_column("1")).label("seq"),
                _HEADS.c.hash.label("prev_hash"))
         .where(_OF_TENANT).with_for_update().cte("next_link"))
_PREV = _utf8(_NEXT.c.prev_hash)
# audit_chain.event_hash, in SQL: sha256(prev_hash + "\n" + canonical) as hex, where canonical
# is a + prev_hash + b + seq + c (audit_sealing.canonical_parts); h_before_prev is "\n" + a.
_HASH = func.encode(func.sha256(_joined(
    _PREV, _part("h_before_prev"), _PREV, _part("h_before_seq"), _utf8(cast(_NEXT.c.seq, Text)),
    _part("h_after_seq"))), literal_column("'hex'"), type_=String)
_SEALED = select(_NEXT.c.seq, _NEXT.c.prev_hash, _HASH.label("hash")).cte("sealed")


def _sealed(column: str):
    # A scalar subquery: exactly one value, or NULL if the head were missing, which the NOT
    # NULL chain columns refuse, so the script fails rather than commit a draft without its
    # event. (The head exists: _START_HEAD runs just before, in the same transaction.)
    return select(_SEALED.c[column]).scalar_subquery()


_BODY_KEYS = tuple(k for k in _EVENT_KEYS if k not in ("seq", "prev_hash", "hash"))
_APPEND_SEALED_BY_SERVER = (
    AuditEvent.__table__.insert()
    .values({**{k: bindparam(f"e_{k}") for k in _BODY_KEYS}, "seq": _sealed("seq"),
             "prev_hash": _sealed("prev_hash"), "hash": _sealed("hash")})
    .returning(AuditEvent.__table__.c.seq, AuditEvent.__table__.c.hash)
    .add_cte(_HEADS.update().where(_OF_TENANT)
             .values(seq=_sealed("seq"), hash=_sealed("hash")).cte("moved_head")))
# For a PostgreSQL script inside its transaction, with sealed_by_server's parameters; its last
# rows are the new head's (seq, hash).
APPEND_SEALED_BY_SERVER_SQL = (pg_script.render(_START_HEAD) + "; "
                               + pg_script.render(_APPEND_SEALED_BY_SERVER))


def checkpoint_values(tenant_id: str, seq: int, head_hash: str, key) -> dict[str, Any]:
    """The columns of a signed checkpoint for (seq, head hash)."""
    created = iso(utcnow())
    cp = audit_chain.make_checkpoint(tenant_id, seq, head_hash, key, created)
    return {"tenant_id": tenant_id, "seq": seq, "head_hash": head_hash,
            "created_at": parse_iso(created), "key_id": cp["key_id"],
            "signature": cp["signature"]}


def signing_key(rt: Runtime):
    """The Ed25519 checkpoint key from configuration, loaded once (None when not configured)."""
    if "audit_key" not in rt.caches:
        value = rt.settings.audit_signing_key
        rt.caches["audit_key"] = audit_chain.load_signing_key(value) if value else None
    return rt.caches["audit_key"]


def verifying_key(rt: Runtime):
    """The public key checkpoints are verified with: REPLYWISE_AUDIT_PUBLIC_KEY, so an auditor
    needs no signing secret, or else the public half of the signing key (None: neither set)."""
    if "audit_public_key" not in rt.caches:
        value = rt.settings.audit_public_key
        if value:
            rt.caches["audit_public_key"] = audit_chain.load_public_key(value)
        else:
            key = signing_key(rt)
            rt.caches["audit_public_key"] = key.public_key() if key is not None else None
    return rt.caches["audit_public_key"]


def iso(moment: datetime) -> str:
    """The canonical timestamp form hashed into events."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


CHAIN_FIELDS = ("event_id", "seq", "tenant_id", "actor", "actor_roles", "action", "target_type",
                "target_id", "request_id", "client_ip", "user_agent", "result", "provider",
                "model", "prompt_tokens", "completion_tokens", "cost_usd", "pii_counts",
                "details", "prev_hash")


def as_chain_dict(event: AuditEvent) -> dict[str, Any]:
    """The event as the plain dict that is hashed, exported and verified."""
    data = {name: getattr(event, name) for name in CHAIN_FIELDS}
    data["occurred_at"] = iso(event.occurred_at)
    data["hash"] = event.hash
    return data


def iter_events(session: Session, batch: int = 2000) -> Iterator[dict[str, Any]]:
    """The session tenant's events in chain order, streamed in batches (millions fit)."""
    last = 0
    while True:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > last)
                               .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            yield as_chain_dict(row)
        last = rows[-1].seq
        session.expunge_all()
