"""Validating Microsoft identity platform v2 access tokens. Pure: keys come from a resolver.

The order of the checks matters. Everything that can be decided from the unverified token (its
shape, algorithm, key id and tenant) is decided before the resolver is asked for anything, so a
forged or foreign token never makes this process talk to Microsoft. Only then is the signature
checked, and only a verified token's claims are trusted.

Rejections carry a stable reason (the API's error code) and a fixed message: never the token,
never a claim value, because either could be replayed from logs or error reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import jwt

from backend.governance.entra_groups import GroupsClaim, read_groups_claim

if TYPE_CHECKING:  # pragma: no cover
    from backend.config import Settings

# RS256 is what Entra signs access tokens with. Anything else (none, HS256 with the public key
# as the HMAC secret, ...) is an attack on the verifier, not a token.
ALLOWED_ALGORITHMS = ("RS256",)
API_SCOPE = "access_as_user"
# Real access tokens are a few kilobytes; a megabyte header is an attempt to make us work.
MAX_TOKEN_CHARS = 16_000
REQUIRED_CLAIMS = ("exp", "nbf", "iat", "aud", "iss", "tid", "oid")

_MESSAGES = {
    "invalid_token": "The access token is not valid. Sign in again.",
    "token_expired": "The access token has expired. Sign in again.",
    "wrong_audience": "The access token was issued for another application.",
    "wrong_issuer": "The access token was not issued by the expected tenant.",
    "tenant_not_allowed": "Your organisation is not set up to use this Replywise.",
    "missing_scope": "The access token does not grant access to Replywise (access_as_user).",
    "unknown_key": "The access token is signed with a key this tenant does not publish.",
}


class TokenRejected(Exception):
    """The token is not acceptable; `reason` is the API error code, `message` is safe to show."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(_MESSAGES[reason])
        self.reason = reason
        self.message = _MESSAGES[reason]
        # For logs only: which check failed, in words that never contain token content.
        self.detail = detail or reason


class KeyResolver(Protocol):
    """Where the tenant's signing keys and issuer come from (cached HTTP in production)."""

    def signing_key(self, tenant_id: str, kid: str) -> Any | None:
        """The public key with this id, or None when the tenant does not publish it."""

    def issuer(self, tenant_id: str) -> str:
        """The issuer from the tenant's OIDC metadata (may contain "{tenantid}")."""


@dataclass(frozen=True)
class EntraIdentity:
    """The verified facts about the caller that Replywise uses."""

    tenant_id: str
    object_id: str
    roles: frozenset[str]
    username: str | None
    name: str | None
    expires_at: int
    groups: GroupsClaim = GroupsClaim()


def validate(token: str, keys: KeyResolver, settings: "Settings") -> EntraIdentity:
    """Verify an access token for this API; raise TokenRejected with the reason otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("invalid_token", "empty or oversized")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRejected("invalid_token", "not a JWT") from None
    if header.get("alg") not in ALLOWED_ALGORITHMS:
        raise TokenRejected("invalid_token", "algorithm not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 200:
        raise TokenRejected("invalid_token", "no key id")
    tenant = unverified.get("tid")
    if not isinstance(tenant, str) or not tenant:
        raise TokenRejected("invalid_token", "no tenant")
    tenant = tenant.lower()
    # Decided on the unverified tid on purpose: it only ever narrows what we will fetch, and a
    # tid we would refuse anyway must not cost a request to Microsoft.
    if tenant not in {t.lower() for t in settings.entra_allowed_tenants}:
        raise TokenRejected("tenant_not_allowed")

    key = keys.signing_key(tenant, kid)
    if key is None:
        raise TokenRejected("unknown_key")
    issuer = keys.issuer(tenant).replace("{tenantid}", tenant)
    client_id = settings.entra_client_id
    claims = _verified_claims(token, key, audience=[client_id, f"api://{client_id}"],
                              issuer=issuer, leeway=settings.entra_clock_skew_s)

    if claims.get("ver") != "2.0":
        raise TokenRejected("invalid_token", "not a v2.0 token")
    if str(claims["tid"]).lower() != tenant:  # pragma: no cover - same token, belt and braces
        raise TokenRejected("invalid_token", "tenant mismatch")
    scopes = claims.get("scp")
    if not isinstance(scopes, str) or API_SCOPE not in scopes.split():
        # App-only tokens carry roles but no scp: they act for nobody, so they may not draft.
        raise TokenRejected("missing_scope")
    oid = claims["oid"]
    if not isinstance(oid, str) or not oid:
        raise TokenRejected("invalid_token", "no object id")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenRejected("invalid_token", "malformed roles")
    return EntraIdentity(
        tenant_id=tenant, object_id=oid.lower(), roles=frozenset(roles),
        username=_short(claims.get("preferred_username")), name=_short(claims.get("name")),
        expires_at=int(claims["exp"]), groups=read_groups_claim(claims))


def _verified_claims(token: str, key: Any, *, audience: list[str], issuer: str,
                     leeway: int) -> dict[str, Any]:
    options: dict[str, Any] = {"require": list(REQUIRED_CLAIMS)}
    try:
        return jwt.decode(token, key, algorithms=list(ALLOWED_ALGORITHMS), audience=audience,
                          issuer=issuer, leeway=leeway, options=options)
    except jwt.ExpiredSignatureError:
        raise TokenRejected("token_expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenRejected("invalid_token", "not valid yet") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected("wrong_audience") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("wrong_issuer") from None
    except jwt.InvalidSignatureError:
        raise TokenRejected("invalid_token", "bad signature") from None
    except jwt.MissingRequiredClaimError:
        raise TokenRejected("invalid_token", "missing claim") from None
    except (jwt.PyJWTError, TypeError, ValueError):
        raise TokenRejected("invalid_token", "undecodable") from None


def _short(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
