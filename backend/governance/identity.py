"""Who is asking: the Principal every service call receives."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

LOCAL_IDP = "local"
LOCAL_TENANT = "local"

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


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
    # Group names or ids from the identity token (Entra "groups": object ids, lower case); the
    # database adds its own (services/grounding.py).
    groups: frozenset[str] = frozenset()
    # The token said the user is in more groups than it could carry (Entra's groups overage):
    # `groups` is incomplete until the directory is asked (services/directory_groups.py).
    groups_overage: bool = False

    @property
    def is_local(self) -> bool:
        return self.idp == LOCAL_IDP

    def with_roles(self, roles: frozenset[str]) -> "Principal":
        return replace(self, roles=roles)

    def with_user(self, user_id: str) -> "Principal":
        return replace(self, user_id=user_id)


def canonical_id(name: str) -> str:
    """A group or user name as stored and compared: directory object ids (GUIDs) in lower case.

    Entra sends object ids in lower case, while admins paste them from wherever they found them;
    grants are compared by plain string equality in SQL, so both sides are made canonical once,
    when written and when read from a token. Other names keep their case.
    """
    name = name.strip()
    return name.lower() if _GUID.fullmatch(name) else name


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1 — the only origins local mode trusts."""
    if not address:
        return False
    return address == "::1" or address.startswith("127.") or address == "::ffff:127.0.0.1"
