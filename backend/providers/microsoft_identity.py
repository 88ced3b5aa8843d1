"""Microsoft identity platform over HTTP: tenant signing keys (OIDC metadata + JWKS) and the
on-behalf-of exchange for Microsoft Graph.

Keys are cached per tenant for a day: Microsoft publishes a new key weeks before signing with it,
so a key id that is unknown to a copy we fetched minutes ago is almost certainly forged. A miss
therefore refreshes the JWKS only when our copy is at least five minutes old, which keeps a
stream of made-up key ids from turning this service into a load generator against Microsoft.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import msal
import requests

log = logging.getLogger(__name__)

KEYS_TTL_S = 24 * 3600.0
MIN_REFRESH_INTERVAL_S = 300.0
# After Microsoft failed to answer, stale keys keep serving and the next try waits this long.
RETRY_AFTER_FAILURE_S = 60.0
HTTP_TIMEOUT_S = (3.05, 10.0)
GRAPH_MAIL_READ = "https://graph.microsoft.com/Mail.Read"
# One msal app per tenant keeps a token cache for every user it served; past this many users
# the app is rebuilt, so memory stays bounded and the busiest users simply re-exchange once.
MAX_CACHED_USERS_PER_TENANT = 5000


class KeysUnavailable(Exception):
    """Microsoft's metadata or keys could not be fetched and nothing usable is cached."""


@dataclass
class _TenantKeys:
    issuer: str
    jwks_uri: str
    keys: dict[str, Any]
    fetched_at: float     # when the JWKS was last fetched successfully
    next_try: float       # earliest time another fetch may be attempted


class EntraKeyStore:
    """Per-tenant OIDC issuer and signing keys, fetched on demand and cached (thread-safe)."""

    def __init__(self, metadata_url: str, authority_host: str, *,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._metadata_url = metadata_url
        self._authority = authority_host.rstrip("/")
        self._session = session or requests.Session()
        self.clock = clock
        self._tenants: dict[str, _TenantKeys] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def signing_key(self, tenant_id: str, kid: str) -> Any | None:
        """The tenant's public key with this id; None if the tenant does not publish it."""
        entry = self._current(tenant_id)
        key = entry.keys.get(kid)
        if key is not None:
            return key
        with self._lock(tenant_id):
            entry = self._tenants[tenant_id]
            key = entry.keys.get(kid)
            now = self.clock()
            if key is None and now - entry.fetched_at >= MIN_REFRESH_INTERVAL_S \
                    and now >= entry.next_try:
                try:
                    entry.keys = self._fetch_keys(entry.jwks_uri)
                    entry.fetched_at = entry.next_try = now
                    log.info("entra signing keys refreshed for an unknown key id",
                             extra={"keys": len(entry.keys)})
                except KeysUnavailable:
                    entry.next_try = now + RETRY_AFTER_FAILURE_S
                key = entry.keys.get(kid)
            return key

    def issuer(self, tenant_id: str) -> str:
        """The issuer named by the tenant's OIDC metadata."""
        return self._current(tenant_id).issuer

    def _current(self, tenant_id: str) -> _TenantKeys:
        entry = self._tenants.get(tenant_id)
        if entry is not None and self.clock() - entry.fetched_at < KEYS_TTL_S:
            return entry
        with self._lock(tenant_id):
            entry = self._tenants.get(tenant_id)  # another thread may have loaded it meanwhile
            now = self.clock()
            if entry is not None and (now - entry.fetched_at < KEYS_TTL_S or now < entry.next_try):
                return entry
            try:
                issuer, jwks_uri = self._fetch_metadata(tenant_id)
                fresh = _TenantKeys(issuer, jwks_uri, self._fetch_keys(jwks_uri), now, now)
            except KeysUnavailable:
                if entry is None:
                    raise
                # Signing keys live for weeks: yesterday's copy beats refusing every sign-in.
                log.warning("entra keys could not be refreshed; serving the cached copy")
                entry.next_try = now + RETRY_AFTER_FAILURE_S
                return entry
            self._tenants[tenant_id] = fresh
            return fresh

    def _lock(self, tenant_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(tenant_id, threading.Lock())

    def _fetch_metadata(self, tenant_id: str) -> tuple[str, str]:
        url = self._metadata_url.format(authority=self._authority, tenant=tenant_id)
        document = self._get_json(url, "metadata")
        issuer, jwks_uri = document.get("issuer"), document.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str) \
                or not jwks_uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise KeysUnavailable("OIDC metadata without issuer or jwks_uri")
        return issuer, jwks_uri

    def _fetch_keys(self, jwks_uri: str) -> dict[str, Any]:
        document = self._get_json(jwks_uri, "jwks")
        keys: dict[str, Any] = {}
        for jwk in document.get("keys") or []:
            # Only RSA signing keys can verify an RS256 token; anything else is skipped, not
            # trusted, so an odd entry cannot widen what we accept.
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" \
                    or jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
            except jwt.PyJWTError:
                log.warning("skipping an unusable key in the tenant's JWKS")
        return keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._session.get(url, timeout=HTTP_TIMEOUT_S)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as exc:
            log.warning("entra %s fetch failed", what, extra={"error_type": type(exc).__name__})
            raise KeysUnavailable(f"{what} fetch failed") from None
        if not isinstance(document, dict):
            raise KeysUnavailable(f"{what} is not a JSON object")
        return document


# --- on-behalf-of ------------------------------------------------------------------------------


class ConsentRequired(Exception):
    """The user (or an admin) has not consented to Replywise reading their mail."""


class ClaimsChallenge(Exception):
    """Conditional access wants more from the user; `claims` goes back to the pane."""

    def __init__(self, claims: str):
        super().__init__("claims challenge")
        self.claims = claims


class DelegationFailed(Exception):
    """Any other failure to get a Graph token; `error` is Entra's code, never a token."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


_CONSENT_CODES = {65001, 65004}


class OnBehalfOf:
    """Exchanges the caller's token for a Graph token, one msal app (and token cache) per tenant."""

    def __init__(self, client_id: str, client_secret: str | None, authority_host: str,
                 timeout_s: float = 10.0):
        self._client_id = client_id
        self._secret = client_secret
        self._authority = authority_host.rstrip("/")
        self._timeout = timeout_s
        self._apps: dict[str, tuple[msal.ConfidentialClientApplication, set[str]]] = {}
        self._lock = threading.Lock()

    def graph_token(self, tenant_id: str, object_id: str, user_assertion: str,
                    scopes: tuple[str, ...] = (GRAPH_MAIL_READ,)) -> str:
        """A Graph access token for this user; raises ConsentRequired, ClaimsChallenge or
        DelegationFailed."""
        if not self._secret:
            raise DelegationFailed("not_configured")
        app = self._app(tenant_id, object_id)
        try:
            result = self._from_cache(app, tenant_id, object_id, list(scopes)) \
                or app.acquire_token_on_behalf_of(user_assertion=user_assertion,
                                                  scopes=list(scopes))
        except (requests.RequestException, ValueError) as exc:
            raise DelegationFailed(type(exc).__name__) from None
        return _access_token(result)

    def _app(self, tenant_id: str, object_id: str) -> msal.ConfidentialClientApplication:
        with self._lock:
            held = self._apps.get(tenant_id)
            if held is not None and not self._full(held[1], object_id):
                held[1].add(object_id)
                return held[0]
        # Built outside the lock: construction fetches the tenant's metadata, and one slow
        # tenant must not hold up every other tenant's drafts.
        app = self._build(tenant_id)
        with self._lock:
            held = self._apps.get(tenant_id)
            if held is None or self._full(held[1], object_id):
                held = (app, set())
                self._apps[tenant_id] = held
            held[1].add(object_id)
            return held[0]

    @staticmethod
    def _full(users: set[str], object_id: str) -> bool:
        return object_id not in users and len(users) >= MAX_CACHED_USERS_PER_TENANT

    def _build(self, tenant_id: str) -> msal.ConfidentialClientApplication:
        try:
            # instance_discovery=False: the authority host is configured, not guessed, so
            # there is nothing to discover and no extra call on the request path.
            return msal.ConfidentialClientApplication(
                self._client_id, client_credential=self._secret,
                authority=f"{self._authority}/{tenant_id}", instance_discovery=False,
                timeout=self._timeout)
        except (requests.RequestException, ValueError) as exc:
            raise DelegationFailed(type(exc).__name__) from None

    @staticmethod
    def _from_cache(app: msal.ConfidentialClientApplication, tenant_id: str, object_id: str,
                    scopes: list[str]) -> dict[str, Any] | None:
        # acquire_token_on_behalf_of always calls Entra; the token it stored last time is
        # found through the user's account (home account id = oid.tid) instead.
        account = next(iter(app.token_cache.search(
            msal.TokenCache.CredentialType.ACCOUNT,
            query={"home_account_id": f"{object_id}.{tenant_id}"})), None)
        if account is None:
            return None
        result = app.acquire_token_silent_with_error(scopes, account=account)
        return result if result and "access_token" in result else None


def _access_token(result: dict[str, Any]) -> str:
    if result.get("access_token"):
        return str(result["access_token"])
    error = str(result.get("error") or "unknown_error")
    description = str(result.get("error_description") or "")
    codes = {c for c in result.get("error_codes") or [] if isinstance(c, int)}
    if result.get("claims"):
        raise ClaimsChallenge(str(result["claims"]))
    if (error == "consent_required" or result.get("suberror") == "consent_required"
            or codes & _CONSENT_CODES or "AADSTS65001" in description):
        raise ConsentRequired()
    if error == "interaction_required":
        # No claims to pass on: an interactive sign-in in the pane is what resolves it.
        raise ConsentRequired()
    raise DelegationFailed(error[:64])
