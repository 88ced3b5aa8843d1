"""Browser sign-in for the analytics page: OpenID Connect authorisation-code flows.

Microsoft goes through msal (ConfidentialClientApplication: PKCE, state and nonce checks, the
token request and the ID token checks are msal's). Google is the same flow over plain HTTP
with requests. Either returns the verified ID token claims; deciding who that is (tenant,
roles) is the service's job.

Why no signature check on Google's ID token: it arrives straight from Google's token endpoint
over TLS in exchange for a one-time code and our client secret, which OpenID Connect Core
(3.1.3.7) accepts in place of a signature check. Issuer, audience, expiry and nonce are checked.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import msal
import requests

HTTP_TIMEOUT_S = (3.05, 10.0)
GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CLOCK_SKEW_S = 120


class SignInFailed(Exception):
    """The identity provider did not vouch for the browser; `reason` is safe to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _NoTokenCache(msal.TokenCache):
    """The page needs the ID token's claims once; keeping every admin's tokens would only grow."""

    def add(self, event, **kwargs) -> None:
        return None


class MicrosoftSignIn:
    """msal's authorisation-code flow for work accounts of the allowed Entra tenants."""

    def __init__(self, client_id: str, client_secret: str | None, authority_host: str,
                 allowed_tenants: tuple[str, ...], *, http: requests.Session | None = None):
        if not client_secret:
            raise SignInFailed("Microsoft sign-in needs REPLYWISE_ENTRA_CLIENT_SECRET.")
        # One enrolled tenant signs in at its own authority; several go through
        # "organizations" and the tenant (tid) is checked after sign-in.
        tenant = allowed_tenants[0] if len(allowed_tenants) == 1 else "organizations"
        self._app = msal.ConfidentialClientApplication(
            client_id, client_credential=client_secret,
            authority=f"{authority_host.rstrip('/')}/{tenant}", http_client=http,
            token_cache=_NoTokenCache())

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """(URL to send the browser to, the flow to keep until the callback)."""
        flow = self._app.initiate_auth_code_flow([], redirect_uri=redirect_uri,
                                                 response_mode="form_post")
        return flow.pop("auth_uri"), flow

    def finish(self, flow: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        """The ID token claims, or SignInFailed."""
        try:
            result = self._app.acquire_token_by_auth_code_flow(flow, params)
        except ValueError:  # msal: state mismatch or a replayed flow
            raise SignInFailed("The sign-in response does not match this browser's sign-in. "
                               "Start again.") from None
        if "error" in result or "id_token_claims" not in result:
            raise SignInFailed("Microsoft did not complete the sign-in "
                               f"({result.get('error', 'no ID token')}).")
        return dict(result["id_token_claims"])


class GoogleSignIn:
    """Google's OpenID Connect code flow (with PKCE), for Workspace accounts."""

    def __init__(self, client_id: str, client_secret: str, *,
                 http: requests.Session | None = None):
        if not client_id or not client_secret:
            raise SignInFailed("Google sign-in needs REPLYWISE_GOOGLE_OAUTH_CLIENT_ID and "
                               "REPLYWISE_GOOGLE_OAUTH_CLIENT_SECRET.")
        self._client_id = client_id
        self._secret = client_secret
        self._http = http or requests.Session()

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        state, nonce, verifier = (secrets.token_urlsafe(24), secrets.token_urlsafe(24),
                                  secrets.token_urlsafe(48))
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({"client_id": self._client_id, "redirect_uri": redirect_uri,
                           "response_type": "code", "scope": "openid email profile",
                           "state": state, "nonce": nonce, "code_challenge": challenge,
                           "code_challenge_method": "S256", "prompt": "select_account"})
        return f"{GOOGLE_AUTH_URL}?{query}", {"state": state, "nonce": nonce,
                                              "code_verifier": verifier,
                                              "redirect_uri": redirect_uri}

    def finish(self, flow: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        if not params.get("state") or params.get("state") != flow.get("state"):
            raise SignInFailed("The sign-in response does not match this browser's sign-in. "
                               "Start again.")
        if "code" not in params:
            raise SignInFailed(f"Google did not complete the sign-in "
                               f"({params.get('error', 'no code')}).")
        try:
            response = self._http.post(GOOGLE_TOKEN_URL, data={
                "code": params["code"], "client_id": self._client_id,
                "client_secret": self._secret, "redirect_uri": flow["redirect_uri"],
                "grant_type": "authorization_code", "code_verifier": flow["code_verifier"]},
                timeout=HTTP_TIMEOUT_S)
        except requests.RequestException:
            raise SignInFailed("Google's sign-in service did not answer. Try again.") from None
        if response.status_code != 200:
            raise SignInFailed("Google refused the sign-in code. Start again.")
        try:
            claims = jwt.decode(response.json()["id_token"], options={"verify_signature": False})
        except (ValueError, KeyError, jwt.PyJWTError):
            raise SignInFailed("Google answered without a usable ID token.") from None
        now = time.time()
        if (claims.get("iss") not in GOOGLE_ISSUERS or claims.get("aud") != self._client_id
                or claims.get("nonce") != flow["nonce"]
                or float(claims.get("exp", 0)) < now - CLOCK_SKEW_S or not claims.get("sub")):
            raise SignInFailed("Google's ID token is not for this sign-in.")
        return claims
