"""A stand-in for Microsoft Entra behind `responses`: keys made in the test, OIDC metadata and a
JWKS served by callbacks (so fetches can be counted), tokens minted with PyJWT."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TENANT = "3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
FOREIGN_TENANT = "99999999-aaaa-4bbb-8ccc-dddddddddddd"
CLIENT_ID = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d"
AUTHORITY = "https://login.microsoftonline.com"
METADATA_URL = f"{AUTHORITY}/{TENANT}/v2.0/.well-known/openid-configuration"
JWKS_URL = f"{AUTHORITY}/{TENANT}/discovery/v2.0/keys"
TOKEN_URL = f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"
ISSUER = f"{AUTHORITY}/{TENANT}/v2.0"
GRAPH = "https://graph.microsoft.com/v1.0"
USER_OID = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"


def entra_settings(**extra: Any) -> dict[str, Any]:
    """make_app() overrides that turn on Entra sign-in for the fake tenant."""
    return {"entra_client_id": CLIENT_ID, "entra_allowed_tenants": (TENANT,),
            "entra_client_secret": "test-client-secret", "entra_clock_skew_s": 120, **extra}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        """The public half, as Entra's JWKS lists it."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "issuer": ISSUER}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@lru_cache(maxsize=None)
def signing_key(kid: str) -> SigningKey:
    """An RSA key made once per test session for each key id."""
    return SigningKey(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))


def claims(**overrides: Any) -> dict[str, Any]:
    """The claims of a valid v2 access token for this API; None removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "aud": CLIENT_ID, "iss": ISSUER, "iat": now - 10, "nbf": now - 10, "exp": now + 3600,
        "tid": TENANT, "oid": USER_OID, "sub": "pairwise-subject", "ver": "2.0",
        "scp": "access_as_user", "azp": CLIENT_ID, "name": "Sam Lee",
        "preferred_username": "sam@corp-example.com", "roles": ["drafter"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: SigningKey | None = None, *, headers: dict[str, Any] | None = None,
         **overrides: Any) -> str:
    """A token signed with `key` (default: the tenant's current key)."""
    key = key or signing_key("key-1")
    return jwt.encode(claims(**overrides), key.private_key, algorithm="RS256",
                      headers={"kid": key.kid, **(headers or {})})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(**overrides: Any) -> str:
    """`alg: none` with an empty signature, as an attacker would send it."""
    header = {"alg": "none", "typ": "JWT", "kid": "key-1"}
    return (f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims(**overrides)).encode())}"
            ".")


def hs256_with_public_key(key: SigningKey) -> str:
    """HS256 "signed" with the RSA public key PEM as the HMAC secret (the key-confusion attack).

    PyJWT refuses to make this, so it is made by hand.
    """
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims()).encode())}"
    signature = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


class FakeEntra:
    """Serves the tenant's metadata, JWKS and token endpoint through a RequestsMock."""

    def __init__(self, mock: responses.RequestsMock, *, issuer: str = ISSUER):
        self.mock = mock
        self.issuer = issuer
        self.keys: list[SigningKey] = [signing_key("key-1")]
        self.token_responses: list[tuple[int, dict[str, Any]]] = []
        mock.add_callback(responses.GET, METADATA_URL, callback=self._metadata)
        mock.add_callback(responses.GET, JWKS_URL, callback=self._jwks)
        mock.add_callback(responses.POST, TOKEN_URL, callback=self._token)

    def fetches(self, url: str) -> int:
        """How many times `url` was requested (query string ignored)."""
        return sum(1 for call in self.mock.calls if call.request.url.split("?")[0] == url)

    def token_requests(self) -> list[dict[str, list[str]]]:
        from urllib.parse import parse_qs
        return [parse_qs(call.request.body if isinstance(call.request.body, str)
                         else call.request.body.decode())
                for call in self.mock.calls if call.request.url == TOKEN_URL]

    def _metadata(self, request):
        document = {
            "issuer": self.issuer, "jwks_uri": JWKS_URL,
            "authorization_endpoint": f"{AUTHORITY}/{TENANT}/oauth2/v2.0/authorize",
            "token_endpoint": TOKEN_URL,
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(document)

    def _jwks(self, request):
        body = {"keys": [k.jwk() for k in self.keys]}
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def _token(self, request):
        status, body = (self.token_responses.pop(0) if self.token_responses
                        else graph_token_response())
        return status, {"Content-Type": "application/json"}, json.dumps(body)


def graph_token_response(oid: str = USER_OID, tenant: str = TENANT) -> tuple[int, dict[str, Any]]:
    """A successful on-behalf-of answer, with client_info so msal files it under the user."""
    client_info = _b64(json.dumps({"uid": oid, "utid": tenant}).encode())
    return 200, {"token_type": "Bearer", "scope": "https://graph.microsoft.com/Mail.Read",
                 "expires_in": 3600, "ext_expires_in": 3600,
                 "access_token": f"graph-token-{uuid.uuid4().hex}", "client_info": client_info}


def consent_required_response() -> tuple[int, dict[str, Any]]:
    return 400, {"error": "invalid_grant", "suberror": "consent_required", "error_codes": [65001],
                 "error_description": "AADSTS65001: The user or administrator has not consented "
                                      "to use the application. Trace ID: x"}


CLAIMS = '{"access_token":{"capolids":{"essential":true,"values":["c1a2b3"]}}}'


def claims_challenge_response() -> tuple[int, dict[str, Any]]:
    return 400, {"error": "interaction_required", "error_codes": [50076], "claims": CLAIMS,
                 "error_description": "AADSTS50076: you must use multi-factor authentication."}
