"""Every permission decision in one place. Views and services call `require()`; nothing else
decides who may do what.

Roles:
- drafter: draft replies and give feedback on their own drafts; export their own data.
- analyst: read usage analytics (content-free).
- tenant_admin: policies, budgets, users and roles, the knowledge base.
- auditor: read and verify the audit trail.
- privacy_officer: data-subject requests (export any user's data, erasure).

Separation of duties: whoever administers the tenant must not also be the one who checks the
audit trail of that administration, so tenant_admin and auditor are never held together.
"""
from __future__ import annotations

from enum import StrEnum

from backend.errors import Conflict, Forbidden
from backend.governance.identity import Principal


class Role(StrEnum):
    DRAFTER = "drafter"
    ANALYST = "analyst"
    TENANT_ADMIN = "tenant_admin"
    AUDITOR = "auditor"
    PRIVACY_OFFICER = "privacy_officer"


ROLES = frozenset(r.value for r in Role)

# Pairs no single user may hold (static separation of duties).
EXCLUSIVE_ROLES: tuple[frozenset[str], ...] = (
    frozenset({Role.TENANT_ADMIN.value, Role.AUDITOR.value}),
)

# action -> roles allowed to perform it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "draft.create": frozenset({Role.DRAFTER}),
    "draft.feedback": frozenset({Role.DRAFTER}),
    "analytics.read": frozenset({Role.ANALYST, Role.TENANT_ADMIN}),
    "policy.read": frozenset({Role.TENANT_ADMIN}),
    "policy.write": frozenset({Role.TENANT_ADMIN}),
    "users.manage": frozenset({Role.TENANT_ADMIN}),
    "limits.manage": frozenset({Role.TENANT_ADMIN}),
    "kb.manage": frozenset({Role.TENANT_ADMIN}),
    "audit.read": frozenset({Role.AUDITOR}),
    "audit.verify": frozenset({Role.AUDITOR}),
    "privacy.export_any": frozenset({Role.PRIVACY_OFFICER}),
    "privacy.erase": frozenset({Role.PRIVACY_OFFICER}),
}


class PermissionDenied(Forbidden):
    """403 for an action the principal's roles do not allow; carries what was denied."""

    def __init__(self, action: str):
        super().__init__(f"Your roles do not allow '{action}'. Ask a tenant admin for access.",
                         code="forbidden", action=action)
        self.action = action


class SeparationOfDutiesViolation(Conflict):
    """The role assignment would give one user two roles that must stay apart."""

    def __init__(self, role: str, held: str):
        super().__init__(f"A user cannot hold both '{held}' and '{role}' (separation of "
                         "duties). Revoke one before granting the other.",
                         code="separation_of_duties", role=role, conflicts_with=held)


def allowed(principal: Principal, action: str) -> bool:
    """True if any of the principal's roles permits the action."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")  # a typo must not silently deny or allow
    return bool(PERMISSIONS[action] & principal.roles)


def require(principal: Principal, action: str) -> None:
    """Raise PermissionDenied unless the principal may perform the action."""
    if not allowed(principal, action):
        raise PermissionDenied(action)


def check_role_assignment(current: frozenset[str], role: str) -> None:
    """Raise if `role` is unknown or conflicts with a role already held."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {sorted(ROLES)}")
    for pair in EXCLUSIVE_ROLES:
        if role in pair:
            for held in pair - {role}:
                if held in current:
                    raise SeparationOfDutiesViolation(role, held)


def effective_roles(token_roles: frozenset[str], granted: frozenset[str]) -> frozenset[str]:
    """Roles from the identity token and the database, minus unknown names.

    If the union would break separation of duties (e.g. a token says tenant_admin while the
    database grants auditor), the privileged-administration role is dropped for this request:
    failing closed on the admin side keeps the auditor's independence.
    """
    roles = frozenset(r for r in token_roles | granted if r in ROLES)
    for pair in EXCLUSIVE_ROLES:
        if pair <= roles:
            roles = roles - {Role.TENANT_ADMIN.value}
    return roles
