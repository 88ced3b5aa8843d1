"""Groups from the directory, for users whose token could not carry them all (Entra overage).

A JWT holds at most 200 group ids; a user in more gets an overage indicator instead (see
governance/entra_groups.py). Their groups are then read from Microsoft Graph with an
on-behalf-of token, only when a draft is grounded in documents (the only use of groups), and
kept for a few minutes per user so that it is not one Graph call per draft.

Fail closed: if the groups cannot be read (no consent for GroupMember.Read.All, conditional
access, Graph down), the user reads with their database groups only, so they see fewer
documents, never more. A draft is never refused for it: only an administrator can grant the
missing consent, and the draft is still useful without company documents.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from backend.governance.entra_groups import MAX_GROUP_CHARS
from backend.governance.identity import Principal, canonical_id
from backend.providers.graph import GraphError, delegated_scope
from backend.providers.microsoft_identity import ClaimsChallenge, ConsentRequired, DelegationFailed
from backend.services import identity
from backend.services.runtime import Runtime

log = logging.getLogger(__name__)

# A membership change reaches drafts within five minutes, well inside the hour a token (and the
# groups claim in it) lives anyway.
GROUPS_TTL_S = 300.0
# After a failure the next attempt waits a minute, so an outage or a missing consent costs one
# slow call per user per minute rather than one per draft.
FAILURE_TTL_S = 60.0
# Overage users are in hundreds of groups each; a few thousand lists stay within tens of MB.
MAX_CACHED_USERS = 2000
# Reading the signed-in user's group memberships (getMemberGroups); GroupMember.Read.All needs
# an administrator's consent.
GROUP_PERMISSIONS = ("User.Read", "GroupMember.Read.All")

_Key = tuple[str, str]


class GroupCache:
    """Group ids per (tenant, user object id), each for its own time to live; least recently
    used users are dropped past `max_users`. Thread-safe."""

    def __init__(self, max_users: int = MAX_CACHED_USERS,
                 clock: Callable[[], float] = time.monotonic):
        self.max_users = max_users
        self.clock = clock
        self._entries: OrderedDict[_Key, tuple[float, frozenset[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _Key) -> frozenset[str] | None:
        """The cached ids, or None when there are none or they have expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: _Key, groups: frozenset[str], ttl_s: float) -> None:
        with self._lock:
            self._entries[key] = (self.clock() + ttl_s, groups)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_users:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def cache(rt: Runtime) -> GroupCache:
    """The runtime's directory-group cache (one per app, so tests start empty)."""
    return rt.caches.setdefault("directory_groups", GroupCache())  # type: ignore[return-value]


def with_directory_groups(rt: Runtime, principal: Principal,
                          user_assertion: str | None) -> Principal:
    """The principal with the groups the directory lists for them when their token overflowed;
    unchanged otherwise. Never raises for a directory failure (see the module docstring)."""
    if not principal.groups_overage:
        return principal
    key = (principal.tenant_id, principal.subject)
    groups = cache(rt).get(key)
    if groups is None:
        groups, ttl_s = _read_groups(rt, principal, user_assertion)
        cache(rt).put(key, groups, ttl_s)
    return replace(principal, groups=principal.groups | groups)


def _read_groups(rt: Runtime, principal: Principal,
                 user_assertion: str | None) -> tuple[frozenset[str], float]:
    if principal.idp != identity.ENTRA_IDP or not user_assertion:
        # Only an Entra request carries the token to exchange (a CLI or queued job does not).
        log.warning("directory groups unavailable; database groups only",
                    extra={"error_type": "NoUserToken"})
        return frozenset(), FAILURE_TTL_S
    scopes = tuple(delegated_scope(rt.settings.graph_base_url, p) for p in GROUP_PERMISSIONS)
    try:
        token = identity.on_behalf_of(rt).graph_token(principal.tenant_id, principal.subject,
                                                      user_assertion, scopes=scopes)
        ids = identity.graph_client(rt).member_group_ids(token)
    except (ConsentRequired, ClaimsChallenge, DelegationFailed, GraphError) as exc:
        # Error type, status and Entra's or Graph's code only: never a token or a claim.
        log.warning("directory groups unavailable; database groups only",
                    extra={"error_type": type(exc).__name__,
                           "status": getattr(exc, "status", None),
                           "error": getattr(exc, "error", None) or getattr(exc, "code", None)})
        return frozenset(), FAILURE_TTL_S
    # The answer is a list of strings (checked by the client); an empty or overlong entry cannot
    # match any grant, so it is dropped on its own rather than costing the user every group.
    return frozenset(canonical_id(i) for i in ids
                     if i.strip() and len(i) <= MAX_GROUP_CHARS), GROUPS_TTL_S
