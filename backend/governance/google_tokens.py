"""Google-signed ID tokens: the proof that a Gmail add-on request comes from Google, and who for.

Pure validation over a key resolver (kid → public key), so the checks are tested without a
network. Two tokens arrive with every request:

- the system token (`Authorization: Bearer`, also `systemIdToken`): signed by Google for the
  add-on's service account. Its `email` must be *this* deployment's service account exactly —
  every project's add-on has one of the same shape, so matching a pattern would accept a
  stranger's add-on calling us with its own users' tokens.
- the user token (`userIdToken`): the person, with audience = the add-on's OAuth client id.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt

GOOGLE_ISSUERS = ("accounts.google.com", "https://accounts.google.com")
# Google ID tokens live one hour; a longer-lived "Google" token is not one we issued trust for.
_MAX_LIFETIME_S = 3600 + 300


class GoogleTokenError(Exception):
    """The token is not acceptable; `reason` says why (for logs, never for the caller)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class UnknownKey(GoogleTokenError):
    """No Google certificate has this key id (even after a refresh)."""


KeyResolver = Callable[[str], Any]


@dataclass(frozen=True)
class GoogleUser:
    """The person behind a verified userIdToken."""

    subject: str
    email: str | None
    hosted_domain: str | None   # the Workspace domain (`hd`); None for consumer accounts
    name: str | None


def verify_id_token(token: str, *, key_for: KeyResolver, audiences: Iterable[str],
                    leeway_s: int = 60) -> dict[str, Any]:
    """Check signature (RS256 only), issuer, audience, exp and iat; return the claims."""
    allowed = [a for a in audiences if a]
    if not token or not allowed:
        raise GoogleTokenError("no token" if not token else "no audience configured")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise GoogleTokenError("malformed token") from None
    # The algorithm comes from our policy, never from the token: "none" and HS256-with-the-
    # public-key are the classic forgeries.
    if header.get("alg") != "RS256":
        raise GoogleTokenError(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise GoogleTokenError("token names no key")
    key = key_for(kid)
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=allowed,
                            issuer=list(GOOGLE_ISSUERS), leeway=leeway_s,
                            options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    except jwt.ExpiredSignatureError:
        raise GoogleTokenError("token expired") from None
    except jwt.InvalidAudienceError:
        raise GoogleTokenError("wrong audience") from None
    except jwt.InvalidIssuerError:
        raise GoogleTokenError("wrong issuer") from None
    except jwt.ImmatureSignatureError:
        raise GoogleTokenError("token issued in the future") from None
    except jwt.InvalidSignatureError:
        raise GoogleTokenError("bad signature") from None
    except jwt.InvalidTokenError as exc:
        raise GoogleTokenError(f"invalid token ({type(exc).__name__})") from None
    if not isinstance(claims.get("iat"), (int, float)) or \
            claims["exp"] - claims["iat"] > _MAX_LIFETIME_S:
        raise GoogleTokenError("token lifetime is too long")
    return claims


def verify_system_token(token: str, *, key_for: KeyResolver, audiences: Iterable[str],
                        service_account: str, leeway_s: int = 60) -> dict[str, Any]:
    """A request from Google for this deployment: verified token of exactly our add-on's
    service account, with a verified email."""
    claims = verify_id_token(token, key_for=key_for, audiences=audiences, leeway_s=leeway_s)
    if not service_account or claims.get("email") != service_account:
        raise GoogleTokenError("not this deployment's add-on service account")
    if claims.get("email_verified") is not True:
        raise GoogleTokenError("service account email not verified")
    return claims


def verify_user_token(token: str, *, key_for: KeyResolver, client_id: str,
                      leeway_s: int = 60) -> GoogleUser:
    """The Google user of this request, from the userIdToken (audience = our OAuth client)."""
    claims = verify_id_token(token, key_for=key_for, audiences=[client_id], leeway_s=leeway_s)
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    if email and claims.get("email_verified") is not True:
        email = None  # an unverified address says nothing about who this is
    hd = claims.get("hd") if isinstance(claims.get("hd"), str) else None
    name = claims.get("name") if isinstance(claims.get("name"), str) else None
    return GoogleUser(subject=str(claims["sub"]), email=email, hosted_domain=hd or None,
                      name=name)
