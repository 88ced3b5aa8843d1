"""The groups an Entra access token says its user belongs to. Pure: claims in, a verdict out.

With the app registration's `groupMembershipClaims` set (e.g. "SecurityGroup"), a v2 access
token carries `groups`: the object ids of the user's groups. A JWT holds at most 200; past that
Entra leaves `groups` out and names a claim source instead (the "overage" indicator):
`"_claim_names": {"groups": "src1"}` with `"_claim_sources": {"src1": {"endpoint": ...}}`.
The endpoint it names is the retired Azure AD Graph, so only the fact of the overage is used
here; the list itself is fetched from Microsoft Graph (services/directory_groups.py).

Only ever called with the claims of a token whose signature has been verified.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend.governance.identity import canonical_id

# Longer than any group name a grant can hold (kb_access, user_groups); an object id is 36.
MAX_GROUP_CHARS = 200


@dataclass(frozen=True)
class GroupsClaim:
    """What the token says about groups: the ids it carries, whether there were too many to
    carry, and, when the claim could not be used, why (for logs; never a claim value)."""

    ids: frozenset[str] = frozenset()
    overage: bool = False
    problem: str | None = None


def read_groups_claim(claims: dict[str, Any]) -> GroupsClaim:
    """The token's groups; a malformed claim counts as no groups at all."""
    value = claims.get("groups")
    if value is None:
        return GroupsClaim(overage=_has_overage(claims))
    # A malformed claim is dropped whole, and sign-in still succeeds. Dropping it can only take
    # documents away (groups only ever add readable documents), whereas refusing the token would
    # stop the user drafting altogether over a knowledge-base feature. Keeping the well-formed
    # entries of a garbled list would be guessing at what the issuer meant, so none are kept.
    if not isinstance(value, list):
        return GroupsClaim(problem="groups claim is not a list")
    if not all(isinstance(v, str) and v.strip() and len(v) <= MAX_GROUP_CHARS for v in value):
        return GroupsClaim(problem="groups claim has an entry that is not a group id")
    return GroupsClaim(ids=frozenset(canonical_id(v) for v in value))


def _has_overage(claims: dict[str, Any]) -> bool:
    names = claims.get("_claim_names")
    return isinstance(names, dict) and "groups" in names
