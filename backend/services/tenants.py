"""Tenant policy: read (cached briefly, it is on every draft's path) and written by admins."""
from __future__ import annotations

import threading
import time
from typing import Any

from backend.governance import rbac
from backend.governance.identity import Principal
from backend.governance.pii import PolicyError
from backend.governance.policy import TenantPolicy
from backend.errors import InvalidField
from backend.services import audit
from backend.services.accounts import ensure_tenant
from backend.services.runtime import Runtime
from backend.storage.models import Tenant

_TTL_S = 10.0
_lock = threading.Lock()


def policy_for(rt: Runtime, tenant_id: str) -> TenantPolicy:
    """The tenant's parsed policy; changes apply within a few seconds on every worker."""
    cache: dict[str, tuple[float, TenantPolicy]] = rt.caches.setdefault("policies", {})  # type: ignore[assignment]
    hit = cache.get(tenant_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    # Reading must not create: `replywise redact --tenant x` (a preview) would otherwise leave
    # a tenant row behind. A tenant not created yet simply has the default policy.
    with rt.db.session(tenant_id) as session:
        tenant = session.get(Tenant, tenant_id)
        raw = tenant.policy if tenant is not None else None
    policy = _parse(rt, raw)
    with _lock:
        cache[tenant_id] = (time.monotonic() + _TTL_S, policy)
    return policy


def _parse(rt: Runtime, raw: dict[str, Any] | None) -> TenantPolicy:
    return TenantPolicy.from_dict(raw, default_retention_days=rt.settings.default_retention_days,
                                  default_region=rt.settings.pii_default_region)


def read_policy(rt: Runtime, actor: Principal) -> dict[str, Any]:
    """The stored policy document (tenant_admin)."""
    rbac.require(actor, "policy.read")
    with rt.db.session(actor.tenant_id) as session:
        return dict(ensure_tenant(session, actor.tenant_id).policy or {})


def write_policy(rt: Runtime, actor: Principal, document: dict[str, Any]) -> dict[str, Any]:
    """Replace the tenant's policy after validating it (tenant_admin); audited."""
    rbac.require(actor, "policy.write")
    try:
        _parse(rt, document)
    except PolicyError as exc:
        raise InvalidField("policy", f"Invalid policy: {exc}") from None
    with rt.db.session(actor.tenant_id) as session:
        tenant = ensure_tenant(session, actor.tenant_id)
        tenant.policy = document
        audit.record(rt, session, actor, "policy.update", target=("tenant", actor.tenant_id),
                     details={"fields": sorted(document)})
    rt.caches.get("policies", {}).pop(actor.tenant_id, None)  # type: ignore[union-attr]
    return document
