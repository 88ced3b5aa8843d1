"""Signing in with Microsoft Entra: a bearer access token becomes a Principal.

Failed sign-ins are logged (reason and request id), not audited: the tenant in a rejected token
is unverified, and writing it into that tenant's tamper-evident trail would let anyone on the
internet fill an allowed tenant's audit chain with noise.
"""
from __future__ import annotations

import logging
import threading
import time

from backend.errors import ServiceUnavailable, Unauthorized
from backend.governance import entra_tokens, rbac
from backend.governance.identity import Principal
from backend.providers.graph import GraphClient
from backend.providers.microsoft_identity import EntraKeyStore, KeysUnavailable, OnBehalfOf
from backend.services import accounts, audit
from backend.services.runtime import Runtime

log = logging.getLogger(__name__)

ENTRA_IDP = "entra"
# "auth.login" once per user per hour per process: enough to see who used the product when,
# without an audit write (and chain lock) on every request.
LOGIN_AUDIT_WINDOW_S = 3600.0


class BearerRejected(Unauthorized):
    """401 that tells the client, in the standard header too, to come back with a token."""

    def __init__(self, message: str, *, code: str = "unauthorized", error: str | None = None,
                 **extra: object):
        super().__init__(message, code=code, **extra)
        self._error = error

    def headers(self) -> dict[str, str]:
        # RFC 6750: no error attribute when the request carried no credentials at all.
        value = 'Bearer realm="replywise"'
        if self._error:
            value += f', error="{self._error}"'
        return {"WWW-Authenticate": value}


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header, or a 401 asking for one."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise BearerRejected("Sign in with your Microsoft work account to use Replywise "
                             "(send Authorization: Bearer <access token>).")
    return token


def authenticate_entra(rt: Runtime, token: str, *, client_ip: str | None = None,
                       user_agent: str | None = None) -> Principal:
    """Validate an Entra access token and return the caller, created on first sight."""
    try:
        verified = entra_tokens.validate(token, key_store(rt), rt.settings)
    except entra_tokens.TokenRejected as exc:
        log.info("entra token rejected", extra={"reason": exc.reason, "check": exc.detail})
        raise BearerRejected(exc.message, code=exc.reason, error="invalid_token") from None
    except KeysUnavailable:
        raise ServiceUnavailable("Sign-in cannot be checked right now because Microsoft's "
                                 "sign-in service did not answer. Try again in a minute.",
                                 code="identity_unavailable") from None
    if verified.groups.problem:
        # The claim is ignored (see governance/entra_groups.py); the log says why, never what.
        log.warning("entra groups claim ignored", extra={"check": verified.groups.problem})
    principal = Principal(idp=ENTRA_IDP, tenant_id=verified.tenant_id,
                          subject=verified.object_id, email=verified.username,
                          display_name=verified.name, client_ip=client_ip,
                          user_agent=user_agent, groups=verified.groups.ids,
                          groups_overage=verified.groups.overage)
    resolved = accounts.resolve(rt, principal, verified.roles)
    _audit_login(rt, resolved, verified.roles)
    return resolved


def key_store(rt: Runtime) -> EntraKeyStore:
    """The runtime's cache of tenant signing keys (one per app, so tests start empty)."""
    store = rt.caches.get("entra_keys")
    if store is None:
        with _build_lock:
            store = rt.caches.get("entra_keys")
            if store is None:
                store = EntraKeyStore(rt.settings.entra_metadata_url,
                                      rt.settings.entra_authority_host)
                rt.caches["entra_keys"] = store
    return store  # type: ignore[return-value]


def on_behalf_of(rt: Runtime) -> OnBehalfOf:
    """The runtime's on-behalf-of exchanger (msal apps and their token caches)."""
    exchanger = rt.caches.get("entra_obo")
    if exchanger is None:
        with _build_lock:
            exchanger = rt.caches.get("entra_obo")
            if exchanger is None:
                s = rt.settings
                exchanger = OnBehalfOf(s.entra_client_id, s.entra_client_secret,
                                       s.entra_authority_host)
                rt.caches["entra_obo"] = exchanger
    return exchanger  # type: ignore[return-value]


def graph_client(rt: Runtime) -> GraphClient:
    """The runtime's Microsoft Graph client (one HTTP connection pool per process)."""
    client = rt.caches.get("graph_client")
    if client is None:
        client = rt.caches.setdefault("graph_client", GraphClient(rt.settings.graph_base_url))
    return client  # type: ignore[return-value]


_build_lock = threading.Lock()


class _LoginWindow:
    """Remembers who was seen recently, so a login is audited once per window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], float] = {}

    def first_in_window(self, key: tuple[str, str], now: float) -> bool:
        with self._lock:
            if self._seen.get(key, 0.0) > now:
                return False
            if len(self._seen) > 100_000:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            self._seen[key] = now + LOGIN_AUDIT_WINDOW_S
            return True

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._seen.pop(key, None)


def _audit_login(rt: Runtime, principal: Principal, token_roles: frozenset[str]) -> None:
    window: _LoginWindow = rt.caches.setdefault(  # type: ignore[assignment]
        "login_window", _LoginWindow())
    key = (principal.tenant_id, principal.subject)
    if not window.first_in_window(key, time.monotonic()):
        return
    try:
        with rt.db.session(principal.tenant_id) as session:
            audit.record(rt, session, principal, "auth.login", target=("user", principal.user_id),
                         details={"idp": ENTRA_IDP,
                                  "token_roles": sorted(token_roles & rbac.ROLES)})
    except Exception:
        # Not recorded, so not remembered either: the next request tries again.
        window.forget(key)
        raise
