"""Tenants, users and roles: making sure the caller exists and knowing what they may do."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.governance import rbac
from backend.governance.identity import LOCAL_IDP, Principal
from backend.services import audit
from backend.services.runtime import Runtime
from backend.storage.models import RoleGrant, Tenant, User

# A local developer gets every role but auditor, so the whole product can be tried on one machine
# without breaking separation of duties.
LOCAL_BOOTSTRAP_ROLES = ("drafter", "analyst", "tenant_admin", "privacy_officer")
DEFAULT_ROLES = ("drafter",)

# Resolving a user costs a database round trip on every request; a short TTL keeps the hot path
# fast while a revoked role still stops working within seconds everywhere.
_CACHE_TTL_S = 15.0

# Past the TTL a known user is re-checked with this one statement (does the user still exist in
# the tenant, with which roles) rather than the whole load-or-create transaction: people draft
# less often than every 15 s, so this is what nearly every draft's admission runs.
_USERS, _GRANTS = User.__table__, RoleGrant.__table__
_RECHECK = (select(_USERS.c.id, _GRANTS.c.role)
            .select_from(_USERS.outerjoin(_GRANTS, _GRANTS.c.user_id == _USERS.c.id))
            .where(_USERS.c.id == bindparam("user_id"),
                   _USERS.c.tenant_id == bindparam("tenant_id")))


@dataclass(frozen=True)
class _Known:
    user_id: str
    granted: frozenset[str]
    expires: float


class _UserCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], _Known] = {}

    def get(self, key: tuple[str, str, str]) -> tuple[_Known | None, bool]:
        """(the entry, whether it is still fresh)."""
        entry = self._entries.get(key)
        return entry, entry is not None and entry.expires > time.monotonic()

    def put(self, key: tuple[str, str, str], user_id: str, granted: frozenset[str]) -> None:
        with self._lock:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[key] = _Known(user_id, granted, time.monotonic() + _CACHE_TTL_S)

    def forget_user(self, user_id: str) -> None:
        with self._lock:
            for key in [k for k, v in self._entries.items() if v.user_id == user_id]:
                del self._entries[key]


def _cache(rt: Runtime) -> _UserCache:
    return rt.caches.setdefault("users", _UserCache())  # type: ignore[return-value]


def resolve(rt: Runtime, principal: Principal, token_roles: frozenset[str] = frozenset()
            ) -> Principal:
    """Return the principal with its user id and effective roles, creating rows on first sight."""
    key = (principal.idp, principal.tenant_id, principal.subject)
    known, fresh = _cache(rt).get(key)
    if fresh:
        user_id, granted = known.user_id, known.granted
    else:
        granted = _recheck(rt, principal.tenant_id, known.user_id) if known else None
        if granted is None:  # never seen here, or erased since
            user_id, granted = _load_or_create(rt, principal)
        else:
            user_id = known.user_id
        _cache(rt).put(key, user_id, granted)
    return principal.with_user(user_id).with_roles(rbac.effective_roles(token_roles, granted))


def _recheck(rt: Runtime, tenant_id: str, user_id: str) -> frozenset[str] | None:
    """The user's current roles, or None when the user no longer exists in the tenant."""
    rows = rt.db.read(_RECHECK, {"user_id": user_id, "tenant_id": tenant_id})
    if not rows:
        return None
    return frozenset(row.role for row in rows if row.role is not None)


def _load_or_create(rt: Runtime, principal: Principal) -> tuple[str, frozenset[str]]:
    for _ in range(2):  # a concurrent first request may create the same user: retry once
        try:
            with rt.db.session(principal.tenant_id) as session:
                ensure_tenant(session, principal.tenant_id)
                user = session.scalars(select(User).where(
                    User.idp == principal.idp, User.subject == principal.subject)).first()
                if user is None:
                    user = _create_user(rt, session, principal)
                return user.id, _grants(session, user.id)
        except IntegrityError:
            continue
    raise RuntimeError("could not create user after a concurrent insert")


def ensure_tenant(session: Session, tenant_id: str, name: str | None = None) -> Tenant:
    """The tenant row, created with default policy if missing."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        tenant = Tenant(id=tenant_id, name=name or tenant_id, policy={})
        session.add(tenant)
        session.flush()
    return tenant


def _create_user(rt: Runtime, session: Session, principal: Principal) -> User:
    user = User(tenant_id=principal.tenant_id, idp=principal.idp, subject=principal.subject,
                email=principal.email, display_name=principal.display_name)
    session.add(user)
    session.flush()
    roles = LOCAL_BOOTSTRAP_ROLES if principal.idp == LOCAL_IDP else DEFAULT_ROLES
    for role in roles:
        session.add(RoleGrant(tenant_id=principal.tenant_id, user_id=user.id, role=role,
                              granted_by="system"))
    session.flush()
    audit.record(rt, session, principal.with_user(user.id), "user.create", target=("user", user.id),
                 details={"roles": list(roles), "idp": principal.idp})
    return user


def _grants(session: Session, user_id: str) -> frozenset[str]:
    return frozenset(session.scalars(select(RoleGrant.role).where(RoleGrant.user_id == user_id)))


def find_user(session: Session, user_id: str) -> User:
    """A user of the session's tenant, or 404 (ids of other tenants are simply not found)."""
    user = session.scalars(select(User).where(User.id == user_id)).first()
    if user is None:
        raise NotFound("No such user in this tenant.")
    return user


def grant_role(rt: Runtime, actor: Principal, user_id: str, role: str) -> list[str]:
    """Grant a role (tenant_admin only), refusing separation-of-duties conflicts; audited."""
    rbac.require(actor, "users.manage")
    try:
        with rt.db.session(actor.tenant_id) as session:
            user = find_user(session, user_id)
            current = _grants(session, user.id)
            rbac.check_role_assignment(current, role)
            if role not in current:
                session.add(RoleGrant(user_id=user.id, role=role, granted_by=actor.user_id))
            audit.record(rt, session, actor, "role.grant", target=("user", user.id),
                         details={"role": role})
            roles = sorted(current | {role})
    except rbac.SeparationOfDutiesViolation:
        with rt.db.session(actor.tenant_id) as session:
            audit.record(rt, session, actor, "role.grant", target=("user", user_id),
                         result="denied", details={"role": role, "reason": "separation_of_duties"})
        raise
    _cache(rt).forget_user(user_id)
    return roles


def revoke_role(rt: Runtime, actor: Principal, user_id: str, role: str) -> list[str]:
    """Revoke a role (tenant_admin only); audited. An unknown role name is simply not found."""
    rbac.require(actor, "users.manage")
    if role not in rbac.ROLES:
        # The name comes from the URL: unchecked, it reached the audit guard (a long one was a
        # 500) and recorded a revocation of something that cannot exist.
        raise NotFound(f"No such role; roles are {', '.join(sorted(rbac.ROLES))}.")
    with rt.db.session(actor.tenant_id) as session:
        user = find_user(session, user_id)
        grant = session.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id,
                                                        RoleGrant.role == role)).first()
        if grant is not None:
            session.delete(grant)
        audit.record(rt, session, actor, "role.revoke", target=("user", user.id),
                     details={"role": role})
        roles = sorted(_grants(session, user.id) - {role})
    _cache(rt).forget_user(user_id)
    return roles


def forget_cached_user(rt: Runtime, user_id: str) -> None:
    """Drop a user from this process's cache (after role changes or erasure)."""
    _cache(rt).forget_user(user_id)


def list_users(rt: Runtime, actor: Principal) -> list[dict]:
    """The tenant's users and their database roles (tenant_admin)."""
    rbac.require(actor, "users.manage")
    with rt.db.session(actor.tenant_id) as session:
        users = session.scalars(select(User).order_by(User.created_at)).all()
        grants: dict[str, list[str]] = {}
        for grant in session.scalars(select(RoleGrant)):
            grants.setdefault(grant.user_id, []).append(grant.role)
        return [{"id": u.id, "idp": u.idp, "subject": u.subject, "email": u.email,
                 "display_name": u.display_name, "team": u.team,
                 "roles": sorted(grants.get(u.id, []))} for u in users]


def find_by_subject(rt: Runtime, tenant_id: str, subject: str) -> str:
    """The id of the user with this subject in the tenant (any identity provider), or 404."""
    with rt.db.session(tenant_id) as session:
        user = session.scalars(select(User).where(User.subject == subject)).first()
        if user is None:
            raise NotFound(f"No user with subject {subject!r} in tenant {tenant_id!r}.")
        return user.id
