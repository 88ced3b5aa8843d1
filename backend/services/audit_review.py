"""Reading the audit trail: listing, verifying and exporting a tenant's chain (auditor)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select

from backend.governance import audit_chain, rbac
from backend.governance.identity import Principal
from backend.services import audit
from backend.services.runtime import Runtime
from backend.storage.models import AuditCheckpoint, AuditEvent, AuditHead


# Problems found by comparing the chain with its head row (audit_chain names the others).
HEAD_MISSING = "chain head missing"
HEAD_MISMATCH = "chain head mismatch"
EVENTS_MISSING_AT_END = "events missing at the end of the chain"
EVENT_AFTER_HEAD = "event after the chain head"


def verify_tenant(rt: Runtime, tenant_id: str) -> audit_chain.VerifyResult:
    """Verify one tenant's chain from genesis, against its head row, and against its signed
    checkpoints when a key is set.

    The hash chain alone cannot show that its newest events were deleted (or that a forged one
    was appended): every remaining link is intact. The head row, which every append updates in
    the same transaction, can: the chain must end exactly at the head. Someone who can rewrite
    the database can rewrite the head too, which is what signed checkpoints are for.
    """
    with rt.db.session(tenant_id) as session:
        if session.get_bind().dialect.name == "postgresql":
            # One snapshot for the head and the events, so an append committed mid-walk is
            # neither half-seen nor mistaken for tampering.
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        head_row = session.get(AuditHead, tenant_id)
        head = None if head_row is None else (head_row.seq, head_row.hash)
        seen = _Tail(head[0] if head else 0)
        events = seen.watch(audit.iter_events(session))
        key = audit.verifying_key(rt)
        if key is None:
            result = audit_chain.verify_chain(events)
        else:
            checkpoints = [{"tenant_id": c.tenant_id, "seq": c.seq, "head_hash": c.head_hash,
                            "created_at": audit.iso(c.created_at), "key_id": c.key_id,
                            "signature": c.signature}
                           for c in session.scalars(select(AuditCheckpoint)
                                                    .order_by(AuditCheckpoint.seq))]
            result = audit_chain.verify_chain_with_checkpoints(events, checkpoints, key)
    return _against_head(result, head, seen) if result.ok else result


class _Tail:
    """Remembers, while the chain streams by, the last event and the first one past the head."""

    def __init__(self, head_seq: int) -> None:
        self.head_seq = head_seq
        self.last_id: object = None
        self.beyond: tuple[object, object] | None = None

    def watch(self, events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for event in events:
            self.last_id = event.get("event_id")
            if self.beyond is None and isinstance(event.get("seq"), int) \
                    and event["seq"] > self.head_seq:
                self.beyond = (event.get("event_id"), event["seq"])
            yield event


def _against_head(result: audit_chain.VerifyResult, head: tuple[int, str] | None,
                  seen: _Tail) -> audit_chain.VerifyResult:
    last_seq = result.last_seq or 0

    def bad(problem: str, seq: object, event_id: object = None) -> audit_chain.VerifyResult:
        return audit_chain.VerifyResult(False, result.checked, {
            "event_id": event_id, "seq": seq, "problem": problem}, result.last_seq,
            result.head_hash)

    if head is None:
        return result if last_seq == 0 else bad(HEAD_MISSING, last_seq, seen.last_id)
    head_seq, head_hash = head
    if last_seq < head_seq:
        return bad(EVENTS_MISSING_AT_END, last_seq + 1)
    if last_seq > head_seq:
        event_id, seq = seen.beyond or (None, head_seq + 1)
        return bad(EVENT_AFTER_HEAD, seq, event_id)
    if head_seq and head_hash != result.head_hash:
        return bad(HEAD_MISMATCH, head_seq, seen.last_id)
    return result


def verify(rt: Runtime, actor: Principal) -> dict[str, Any]:
    """Verify the actor's tenant chain (auditor); the check itself is audited."""
    rbac.require(actor, "audit.verify")
    result = verify_tenant(rt, actor.tenant_id)
    with rt.db.session(actor.tenant_id) as session:
        audit.record(rt, session, actor, "audit.verify",
                     result="success" if result.ok else "error",
                     details={"checked": result.checked, "ok": result.ok})
    return {"ok": result.ok, "checked": result.checked, "first_bad": result.first_bad}


def list_events(rt: Runtime, actor: Principal, *, after_seq: int = 0, limit: int = 100
                ) -> list[dict[str, Any]]:
    """A page of the tenant's audit events in chain order (auditor)."""
    rbac.require(actor, "audit.read")
    with rt.db.session(actor.tenant_id) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > after_seq)
                               .order_by(AuditEvent.seq).limit(min(limit, 1000))).all()
        return [audit.as_chain_dict(r) for r in rows]


def export_lines(rt: Runtime, tenant_id: str, out: TextIO) -> int:
    """Write the tenant's events as JSON lines; return how many."""
    count = 0
    with rt.db.session(tenant_id) as session:
        for event in audit.iter_events(session):
            out.write(json.dumps(event, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
    return count


def tenants_with_events(rt: Runtime) -> Iterator[str]:
    """Every tenant that has an audit chain: a head row, events, or both.

    Both, because deleting a tenant's head row must not quietly drop its chain from
    `replywise audit verify`.
    """
    with rt.db.session(all_tenants=True) as session:
        heads = set(session.scalars(select(AuditHead.tenant_id)))
        chains = set(session.scalars(select(AuditEvent.tenant_id).distinct()))
    yield from sorted(heads | chains)
