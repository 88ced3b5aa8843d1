"""Who is looking at the analytics page: browser sign-in and the session it leaves.

Local mode (no identity provider) needs none of this: the page uses the loopback local
identity like every other surface. With Microsoft configured, msal's authorisation-code flow;
with Google configured, Google's. Either ends in a Principal resolved like any API caller
(accounts.resolve), so roles granted in the database and token roles (Entra app roles) count
alike, and a revoked role stops working within the user cache's TTL.
"""
from __future__ import annotations

import logging
import time
from typing import Any

from backend.errors import ServiceUnavailable, Unauthorized
from backend.governance.identity import Principal
from backend.providers.oidc_signin import GoogleSignIn, MicrosoftSignIn, SignInFailed
from backend.services import accounts, audit, tenant_domains
from backend.services.runtime import Runtime

log = logging.getLogger(__name__)

SESSION_HOURS = 8
ENTRA_IDP, GOOGLE_IDP = "entra", "google"  # the same idp names as the add-ins use


def methods(rt: Runtime) -> list[str]:
    """Sign-in buttons to offer: 'microsoft' and/or 'google'."""
    s = rt.settings
    found = []
    if "entra" in s.identity_providers:
        found.append("microsoft")
    if "google" in s.identity_providers and s.google_oauth_client_id:
        found.append("google")
    return found


def _client(rt: Runtime, method: str) -> MicrosoftSignIn | GoogleSignIn:
    if method not in methods(rt):
        raise Unauthorized(f"Sign-in with {method} is not configured here.", code="signin_method")
    if not rt.settings.secret_key:
        raise ServiceUnavailable("Set REPLYWISE_SECRET_KEY to sign in to the analytics page.",
                                 code="secret_key_missing")
    key = f"admin_signin_{method}"
    client = rt.caches.get(key)
    if client is None:
        s = rt.settings
        try:
            if method == "microsoft":
                client = MicrosoftSignIn(s.entra_client_id, s.entra_client_secret,
                                         s.entra_authority_host, s.entra_allowed_tenants)
            else:
                client = GoogleSignIn(s.google_oauth_client_id, s.google_oauth_client_secret)
        except SignInFailed as exc:
            raise ServiceUnavailable(exc.reason, code="signin_unavailable") from None
        except Exception:  # noqa: BLE001 - msal's discovery failing is an outage, not a bug
            log.exception("sign-in client could not be built")
            raise ServiceUnavailable("The identity provider did not answer. Try again in a "
                                     "minute.", code="identity_unavailable") from None
        rt.caches[key] = client
    return client  # type: ignore[return-value]


def begin(rt: Runtime, method: str, redirect_uri: str) -> tuple[str, dict[str, Any]]:
    """Start a sign-in: the provider URL and the flow state to keep in the browser."""
    url, flow = _client(rt, method).begin(redirect_uri)
    return url, {"method": method, "flow": flow}


def finish(rt: Runtime, pending: dict[str, Any], params: dict[str, str], *,
           client_ip: str | None, user_agent: str | None) -> dict[str, Any]:
    """Complete a sign-in; return what the session cookie keeps (no tokens, no secrets)."""
    method = pending.get("method", "")
    try:
        claims = _client(rt, method).finish(dict(pending.get("flow") or {}), params)
    except SignInFailed as exc:
        log.info("admin sign-in failed", extra={"method": method, "reason": exc.reason})
        raise Unauthorized(exc.reason, code="signin_failed") from None
    if method == "microsoft":
        tenant = str(claims.get("tid", ""))
        if tenant not in rt.settings.entra_allowed_tenants:
            raise Unauthorized("Your organisation is not set up to use this Replywise.",
                               code="tenant_not_allowed")
        data = {"idp": ENTRA_IDP, "tenant_id": tenant, "subject": str(claims.get("oid", "")),
                "roles": sorted(str(r) for r in claims.get("roles", []) or []),
                "name": claims.get("name"), "email": claims.get("preferred_username")}
    else:
        tenant = tenant_domains.tenant_for_domain(rt, claims.get("hd"))
        if tenant is None:
            raise Unauthorized("Your Google Workspace domain is not enrolled in this Replywise.",
                               code="tenant_not_allowed")
        data = {"idp": GOOGLE_IDP, "tenant_id": tenant, "subject": str(claims["sub"]),
                "roles": [], "name": claims.get("name"), "email": claims.get("email")}
    if not data["subject"]:
        raise Unauthorized("The identity provider did not name the user.", code="signin_failed")
    data["expires"] = int(time.time()) + SESSION_HOURS * 3600
    principal = principal_from_session(rt, data, client_ip=client_ip, user_agent=user_agent)
    with rt.db.session(principal.tenant_id) as session:
        audit.record(rt, session, principal, "auth.login", target=("user", principal.user_id),
                     details={"idp": data["idp"], "surface": "admin"})
    return data


def principal_from_session(rt: Runtime, data: dict[str, Any] | None, *,
                           client_ip: str | None, user_agent: str | None) -> Principal:
    """The signed-in person of a session cookie, with current roles; 401 when absent/expired."""
    if not data or int(data.get("expires", 0)) < time.time():
        raise Unauthorized("Sign in to see analytics.", code="signin_required")
    principal = Principal(idp=data["idp"], tenant_id=data["tenant_id"], subject=data["subject"],
                          email=data.get("email"), display_name=data.get("name"),
                          client_ip=client_ip, user_agent=user_agent)
    return accounts.resolve(rt, principal, frozenset(data.get("roles") or ()))
