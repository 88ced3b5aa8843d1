"""Who is asking: the Principal every service call receives."""
from __future__ import annotations

from dataclasses import dataclass, replace

LOCAL_IDP = "local"
LOCAL_TENANT = "local"


@dataclass(frozen=True)
class Principal:
    """An authenticated person in a tenant, with the roles they hold for this request.

    Users are keyed by (idp, tenant_id, subject): Entra tid+oid, Google sub, or a local name.
    `user_id` is the database id, filled in once the user row exists.
    """

    idp: str
    tenant_id: str
    subject: str
    roles: frozenset[str] = frozenset()
    user_id: str | None = None
    email: str | None = None
    display_name: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    # Group names or ids from the identity token (Entra "groups"); the database adds its own.
    groups: frozenset[str] = frozenset()

    @property
    def is_local(self) -> bool:
        return self.idp == LOCAL_IDP

    def with_roles(self, roles: frozenset[str]) -> "Principal":
        return replace(self, roles=roles)

    def with_user(self, user_id: str) -> "Principal":
        return replace(self, user_id=user_id)


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 — the only origins local mode trusts."""
    if not address:
        return False
    return address == "::1" or address.startswith("127.") or address == "::ffff:127.0.0.1"
