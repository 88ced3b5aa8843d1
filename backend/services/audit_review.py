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
from backend.storage.models import AuditCheckpoint, AuditEvent


def verify_tenant(rt: Runtime, tenant_id: str) -> audit_chain.VerifyResult:
    """Verify one tenant's chain from genesis, and its signed checkpoints when a key is set."""
    with rt.db.session(tenant_id) as session:
        events = audit.iter_events(session)
        key = audit.signing_key(rt)
        if key is None:
            return audit_chain.verify_chain(events)
        checkpoints = [{"tenant_id": c.tenant_id, "seq": c.seq, "head_hash": c.head_hash,
                        "created_at": audit.iso(c.created_at), "key_id": c.key_id,
                        "signature": c.signature}
                       for c in session.scalars(select(AuditCheckpoint)
                                                .order_by(AuditCheckpoint.seq))]
        return audit_chain.verify_chain_with_checkpoints(events, checkpoints, key.public_key())


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
    """Every tenant that has an audit chain."""
    from backend.storage.models import AuditHead
    with rt.db.session(all_tenants=True) as session:
        yield from list(session.scalars(select(AuditHead.tenant_id).order_by(AuditHead.tenant_id)))
