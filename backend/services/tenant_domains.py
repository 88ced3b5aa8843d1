"""Which tenant a Google Workspace domain belongs to: enrolled by an operator, read per request.

Gmail users arrive with a Google-verified `hd` (hosted domain) claim and nothing else that names
an organisation, so the mapping domain → tenant is the only way into a tenant from Google. A
domain that is not enrolled gets no tenant: Replywise never creates one on first sight.
"""
from __future__ import annotations

import re
import threading
import time

from sqlalchemy import select

from backend.errors import Conflict, InvalidField
from backend.governance import rbac
from backend.governance.identity import Principal
from backend.services import audit
from backend.services.accounts import ensure_tenant
from backend.services.runtime import Runtime
from backend.storage.models import Tenant, TenantDomain

# Looked up on every Gmail request. Positive and negative answers are cached briefly; an
# enrolment made in this process clears the cache at once, one made elsewhere (the CLI) applies
# within this many seconds.
_TTL_S = 30.0
_lock = threading.Lock()
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalise_domain(domain: str) -> str:
    """The canonical form of a DNS domain (lower case, IDNA), or InvalidField."""
    value = (domain or "").strip().rstrip(".").lower()
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidField("domain", f"{domain!r} is not a valid domain name.") from None
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise InvalidField("domain", f"{domain!r} is not a valid domain name.")
    return value


def enroll_domain(rt: Runtime, actor: Principal, domain: str, tenant_id: str) -> dict:
    """Map DOMAIN to the actor's tenant (creating the tenant row if needed); audited.

    A domain belongs to one tenant: enrolling it for another is a conflict, never a move, so a
    mistake cannot silently hand one organisation's users to another.
    """
    rbac.require(actor, "users.manage")
    if actor.tenant_id != tenant_id:
        raise InvalidField("tenant", "A domain is enrolled by an administrator of its tenant.")
    value = normalise_domain(domain)
    with rt.db.session(tenant_id) as session:
        existing = session.get(TenantDomain, value)
        if existing is not None and existing.tenant_id != tenant_id:
            raise Conflict(f"{value} is already enrolled for another tenant.",
                           code="domain_taken")
        ensure_tenant(session, tenant_id)
        created = existing is None
        if created:
            session.add(TenantDomain(domain=value, tenant_id=tenant_id))
            session.flush()
        audit.record(rt, session, actor, "tenant.domain.enroll", target=("domain", value),
                     details={"created": created})
    _cache(rt).pop(value, None)
    return {"domain": value, "tenant_id": tenant_id, "created": created}


def tenant_for_domain(rt: Runtime, domain: str | None) -> str | None:
    """The tenant a Workspace domain is enrolled for, or None (consumer accounts have none)."""
    if not domain:
        return None
    try:
        value = normalise_domain(domain)
    except InvalidField:
        return None
    cache = _cache(rt)
    hit = cache.get(value)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    with rt.db.session(all_tenants=True) as session:
        tenant_id = session.scalar(select(TenantDomain.tenant_id)
                                   .where(TenantDomain.domain == value))
    with _lock:
        if len(cache) > 10_000:
            cache.clear()
        cache[value] = (time.monotonic() + _TTL_S, tenant_id)
    return tenant_id


def list_tenants(rt: Runtime) -> list[dict]:
    """Every tenant with its enrolled domains (an operator's view, across tenants)."""
    with rt.db.session(all_tenants=True) as session:
        domains: dict[str, list[str]] = {}
        for row in session.scalars(select(TenantDomain).order_by(TenantDomain.domain)):
            domains.setdefault(row.tenant_id, []).append(row.domain)
        return [{"tenant_id": t.id, "name": t.name, "domains": domains.get(t.id, [])}
                for t in session.scalars(select(Tenant).order_by(Tenant.id))]


def _cache(rt: Runtime) -> dict[str, tuple[float, str | None]]:
    return rt.caches.setdefault("tenant_domains", {})  # type: ignore[return-value]
