"""Google's public signing keys (JWKS), fetched with requests and cached as Google asks.

Google rotates its keys every few days and publishes how long a copy may be kept in the
response's Cache-Control max-age. A token signed with a key we have not seen triggers one
refresh, rate-limited so that a stream of forged tokens with random key ids cannot turn every
request into a fetch from Google.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
import requests

from backend.governance.google_tokens import UnknownKey

log = logging.getLogger(__name__)

_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)
DEFAULT_TTL_S = 300.0     # when the response says nothing
MAX_TTL_S = 86_400.0      # never trust a copy longer than a day
MIN_REFRESH_INTERVAL_S = 30.0


class CertsUnavailable(Exception):
    """Google's certificates could not be fetched and no earlier copy exists."""


class GoogleCerts:
    """A thread-safe, self-refreshing view of one JWKS URL."""

    def __init__(self, url: str, *, timeout_s: float = 5.0,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 min_refresh_interval_s: float = MIN_REFRESH_INTERVAL_S):
        self.url = url
        self.timeout_s = timeout_s
        self._session = session or requests.Session()
        self._clock = clock
        self._min_interval = min_refresh_interval_s
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._expires = 0.0
        self._last_fetch: float | None = None

    def key_for(self, kid: str) -> Any:
        """The public key with this id; refreshes when stale or (rate-limited) when unknown."""
        with self._lock:
            now = self._clock()
            if now >= self._expires:
                self._refresh(now, forced=False)
            elif kid not in self._keys and self._may_refresh(now):
                log.info("unknown Google key id; refreshing certificates")
                self._refresh(now, forced=True)
            key = self._keys.get(kid)
        if key is None:
            raise UnknownKey("no Google certificate has this key id")
        return key

    def _may_refresh(self, now: float) -> bool:
        return self._last_fetch is None or now - self._last_fetch >= self._min_interval

    def _refresh(self, now: float, *, forced: bool) -> None:
        if not forced and self._keys and not self._may_refresh(now):
            return  # a fetch just failed: keep the old keys rather than hammer Google
        self._last_fetch = now
        try:
            response = self._session.get(self.url, timeout=self.timeout_s)
            response.raise_for_status()
            keys = _parse_jwks(response.json())
        except (requests.RequestException, ValueError) as exc:
            if self._keys:
                # Keys change slowly: a stale copy beats refusing every user while Google's
                # endpoint hiccups.
                log.warning("could not refresh Google certificates; keeping the old ones",
                            extra={"error_type": type(exc).__name__})
                return
            raise CertsUnavailable(f"could not fetch Google certificates "
                                   f"({type(exc).__name__})") from None
        self._keys = keys
        self._expires = now + _ttl(response.headers.get("Cache-Control", ""))


def _ttl(cache_control: str) -> float:
    match = _MAX_AGE.search(cache_control or "")
    if not match:
        return DEFAULT_TTL_S
    return min(float(match.group(1)), MAX_TTL_S)


def _parse_jwks(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, Any] = {}
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
            continue
        if entry.get("use", "sig") != "sig" or entry.get("alg", "RS256") != "RS256":
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(entry, algorithm="RS256").key
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            log.warning("skipping an unusable Google certificate")
    if not keys:
        raise ValueError("no RSA signing keys in the JWKS document")
    return keys
