"""Data-subject rights and retention: export, erasure, retention runs.

What is held about a person: their user row and role grants, draft metadata (and draft text or
final text only where the tenant opted in), feedback, and audit events that name them by keyed
pseudonym or that target their user id. Erasure removes everything but the audit events, which
hold no identity: without the user row nobody can tell whose pseudonym (or user id) it was, and
the hash chain stays intact.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update

from backend.errors import Forbidden
from backend.governance import rbac
from backend.governance.identity import Principal
from backend.services import accounts, audit, knowledge
from backend.services.runtime import Runtime
from backend.services.tenants import policy_for
from backend.storage.models import AuditEvent, Draft, Feedback, RoleGrant, Tenant, User, utcnow

_DRAFT_FIELDS = ("id", "surface", "status", "provider", "model", "tone", "length", "language",
                 "refine", "prompt_tokens", "completion_tokens", "latency_ms", "ttft_ms",
                 "attempts", "failovers", "offline_fallback", "text_length", "pii_counts", "text")


def _subject_user_id(actor: Principal, user_id: str | None, permission: str) -> str:
    """The person a request is about: oneself, or anyone in the tenant with the permission."""
    if user_id is None or user_id == actor.user_id:
        return actor.user_id or ""
    rbac.require(actor, permission)
    return user_id


def export(rt: Runtime, actor: Principal, user_id: str | None = None) -> dict[str, Any]:
    """Everything Replywise holds about a person of the actor's tenant, as JSON; audited."""
    target = _subject_user_id(actor, user_id, "privacy.export_any")
    with rt.db.session(actor.tenant_id) as session:
        user = accounts.find_user(session, target)
        person = Principal(idp=user.idp, tenant_id=user.tenant_id, subject=user.subject)
        pseudonym = audit.actor_pseudonym(rt, person)
        drafts = session.scalars(select(Draft).where(Draft.user_id == user.id)
                                 .order_by(Draft.created_at)).all()
        feedback = session.scalars(select(Feedback).where(Feedback.user_id == user.id)
                                   .order_by(Feedback.created_at)).all()
        # Events by the person (their pseudonym) and about them (role changes, exports, ...).
        events = session.scalars(select(AuditEvent).where(or_(
            AuditEvent.actor == pseudonym,
            and_(AuditEvent.target_type == "user", AuditEvent.target_id == user.id)))
            .order_by(AuditEvent.seq)).all()
        document = {
            "generated_at": audit.iso(utcnow()),
            "user": {"id": user.id, "identity_provider": user.idp, "subject": user.subject,
                     "email": user.email, "display_name": user.display_name, "team": user.team,
                     "created_at": audit.iso(user.created_at),
                     "roles": sorted(session.scalars(select(RoleGrant.role)
                                                     .where(RoleGrant.user_id == user.id)))},
            "drafts": [{**{f: getattr(d, f) for f in _DRAFT_FIELDS},
                        "cost_usd": format(d.cost_usd, "f"), "created_at": audit.iso(d.created_at)}
                       for d in drafts],
            "feedback": [{"id": f.id, "draft_id": f.draft_id, "action": f.action,
                          "rating": f.rating, "final_text": f.final_text,
                          "edit_ratio": None if f.edit_ratio is None else float(f.edit_ratio),
                          "created_at": audit.iso(f.created_at)} for f in feedback],
            "audit_events": [audit.as_chain_dict(e) for e in events],
            "audit_pseudonym": pseudonym,
        }
        audit.record(rt, session, actor, "privacy.export", target=("user", user.id),
                     details={"self": user.id == actor.user_id, "drafts": len(drafts)})
    return document


def erase(rt: Runtime, actor: Principal, user_id: str) -> dict[str, Any]:
    """Delete a person's stored data (privacy_officer); leaves a tombstone in the audit trail."""
    rbac.require(actor, "privacy.erase")
    if user_id == actor.user_id:
        # A refused request is a denied access like any other: it leaves an event.
        with rt.db.session(actor.tenant_id) as session:
            audit.record(rt, session, actor, "privacy.erasure", result="denied",
                         target=("user", user_id), details={"reason": "self_erasure"})
        raise Forbidden("A privacy officer cannot erase themself; ask another privacy officer.",
                        code="self_erasure")
    with rt.db.session(actor.tenant_id) as session:
        user = accounts.find_user(session, user_id)
        pseudonym = audit.actor_pseudonym(rt, Principal(idp=user.idp, tenant_id=user.tenant_id,
                                                        subject=user.subject))
        counts = {
            "feedback": session.execute(delete(Feedback).where(
                Feedback.user_id == user.id)).rowcount,
            "drafts": session.execute(delete(Draft).where(Draft.user_id == user.id)).rowcount,
            "role_grants": session.execute(delete(RoleGrant).where(
                RoleGrant.user_id == user.id)).rowcount,
            # Documents they uploaded, and knowledge-base grants naming them (issue 8).
            "kb_documents": knowledge.delete_owned(session, user.id, user.subject),
        }
        session.delete(user)
        # The tombstone names the pseudonym, not the person, so it survives the erasure.
        audit.record(rt, session, actor, "privacy.erasure", target=("person", pseudonym),
                     details=counts)
    accounts.forget_cached_user(rt, user_id)
    for hook in rt.caches.get("erasure_hooks", []):  # type: ignore[union-attr]
        hook(actor.tenant_id, user_id)  # caches and documents of later features
    return {"erased_user_id": user_id, "deleted": counts, "audit_pseudonym": pseudonym}


def run_retention(rt: Runtime, usage_days: int | None = None) -> list[dict[str, Any]]:
    """Delete content past each tenant's retention period, and usage rows past `usage_days`."""
    with rt.db.session(all_tenants=True) as session:
        tenant_ids = list(session.scalars(select(Tenant.id)))
    now = utcnow()
    report = []
    for tenant_id in tenant_ids:
        policy = policy_for(rt, tenant_id)
        content_cutoff = now - timedelta(days=policy.retention_days)
        with rt.db.session(tenant_id) as session:
            texts = session.execute(update(Draft).where(
                Draft.created_at < content_cutoff, Draft.text.is_not(None))
                .values(text=None)).rowcount
            finals = session.execute(update(Feedback).where(
                Feedback.created_at < content_cutoff, Feedback.final_text.is_not(None))
                .values(final_text=None)).rowcount
            rows = 0
            if usage_days:
                usage_cutoff = now - timedelta(days=usage_days)
                old = select(Draft.id).where(Draft.created_at < usage_cutoff)
                session.execute(delete(Feedback).where(Feedback.draft_id.in_(old)))
                rows = session.execute(delete(Draft).where(
                    Draft.created_at < usage_cutoff)).rowcount
            entry = {"tenant_id": tenant_id, "retention_days": policy.retention_days,
                     "draft_texts_deleted": texts, "final_texts_deleted": finals,
                     "usage_rows_deleted": rows}
            system = Principal(idp="system", tenant_id=tenant_id, subject="retention")
            audit.record(rt, session, system, "retention.run",
                         details={k: v for k, v in entry.items() if k != "tenant_id"})
        report.append(entry)
    return report
