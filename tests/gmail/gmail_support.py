"""Helpers for Gmail add-on tests: keys and Google-style ID tokens, event objects, Gmail API fakes.

Keys are generated here (RSA via cryptography) and published as a JWKS through `responses`;
nothing reaches Google.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

BASE_URL = "https://replywise.test"
CERTS_URL = "https://certs.google.test/oauth2/v3/certs"
GMAIL_URL = "https://gmail.google.test"
SERVICE_ACCOUNT = "service-123456789012@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
OTHER_PROJECT_ACCOUNT = "service-987654321098@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"
CLIENT_ID = "123456789012-replywise.apps.googleusercontent.com"
DOMAIN = "acme.example"
TENANT = "acme"
KID = "google-key-1"
ENDPOINTS = ("/gmail/homepage", "/gmail/message", "/gmail/compose", "/gmail/draft",
             "/gmail/open-reply", "/gmail/insert")
SCOPES = ("https://www.googleapis.com/auth/gmail.addons.execute",
          "https://www.googleapis.com/auth/gmail.addons.current.message.readonly",
          "https://www.googleapis.com/auth/gmail.addons.current.action.compose",
          "https://www.googleapis.com/auth/userinfo.email")

# The open message: its id as the add-on sends it (msg-f:<decimal>) and as the API wants it.
MESSAGE_DECIMAL = 1789012345678901234
MESSAGE_HEX = format(MESSAGE_DECIMAL, "x")
THREAD_HEX = "18d4c0ffee0a1b2c"
PARENT_ID = "<CAF=invoice-4411@mail.acme-supplier.example>"
PARENT_REFERENCES = "<first-0001@mail.acme-supplier.example> <second-0002@mail.example>"


def google_settings(**changes: Any) -> dict[str, Any]:
    """Settings overrides for a deployment serving the Gmail add-on."""
    settings: dict[str, Any] = dict(
        public_base_url=BASE_URL, google_addon_service_account=SERVICE_ACCOUNT,
        google_endpoint_audiences=tuple(BASE_URL + path for path in ENDPOINTS),
        google_oauth_client_id=CLIENT_ID, google_certs_url=CERTS_URL,
        gmail_api_base_url=GMAIL_URL)
    settings.update(changes)
    return settings


@dataclass(frozen=True)
class SigningKey:
    private: rsa.RSAPrivateKey
    kid: str

    def jwk(self) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**data, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@lru_cache(maxsize=None)
def signing_key(kid: str = KID) -> SigningKey:
    """An RSA key made for this test session (cached: generating keys is slow)."""
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in (keys or (signing_key(),))]}


def sign(claims: dict[str, Any], key: SigningKey | None = None, *, kid: str | None = None) -> str:
    key = key or signing_key()
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


def system_claims(audience: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": audience, "azp": "1122334455",
              "sub": "1122334455", "email": SERVICE_ACCOUNT, "email_verified": True,
              "iat": now, "exp": now + 3600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def user_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "accounts.google.com", "aud": CLIENT_ID, "sub": "110248495921238986420",
              "email": "sam@acme.example", "email_verified": True, "hd": DOMAIN,
              "name": "Sam Lee", "iat": now, "exp": now + 3600}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def unsigned(claims: dict[str, Any]) -> str:
    """alg "none": a token anyone can write."""
    return ".".join([_b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode()),
                     _b64(json.dumps(claims).encode()), ""])


def hmac_with_public_key(claims: dict[str, Any]) -> str:
    """HS256 keyed with the RSA public key: the classic algorithm-confusion forgery."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(signing_key().public_pem(), f"{head}.{body}".encode(), hashlib.sha256)
    return f"{head}.{body}.{_b64(mac.digest())}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- event objects ------------------------------------------------------------------------------


def event(*, user_token: str | None, message_id: str | None = None,
          thread_id: str | None = None, form: dict[str, str] | None = None,
          parameters: dict[str, str] | None = None, scopes: tuple[str, ...] | None = SCOPES,
          oauth_token: str | None = "ya29.user-oauth-token", access_token: str | None = None,
          to: list[str] | None = None) -> dict[str, Any]:
    """A Workspace add-on event object as Google POSTs it."""
    common: dict[str, Any] = {"hostApp": "GMAIL", "platform": "WEB", "userLocale": "en"}
    if form:
        common["formInputs"] = {k: {"stringInputs": {"value": [v]}} for k, v in form.items()}
    if parameters:
        common["parameters"] = parameters
    auth: dict[str, Any] = {"systemIdToken": "ignored-here"}
    if user_token:
        auth["userIdToken"] = user_token
    if oauth_token:
        auth["userOAuthToken"] = oauth_token
    if scopes is not None:
        auth["authorizedScopes"] = list(scopes)
    body: dict[str, Any] = {"commonEventObject": common, "authorizationEventObject": auth}
    gmail: dict[str, Any] = {}
    if message_id:
        gmail.update(messageId=message_id, accessToken=access_token or "gmail-message-token")
    if thread_id:
        gmail["threadId"] = thread_id
    if to is not None:
        gmail["toRecipients"] = to
    if gmail:
        body["gmail"] = gmail
    return body


# --- the Gmail API --------------------------------------------------------------------------------


def parent_message(*, reply_to: str | None = None, subject: str = "Invoice 4411 for March",
                   references: str | None = PARENT_REFERENCES) -> bytes:
    """The message the user opened, as RFC 822 bytes."""
    message = EmailMessage()
    message["From"] = "Jane Doe <jane.doe@acme-supplier.example>"
    message["To"] = "Sam Lee <sam@acme.example>"
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = "Tue, 04 Mar 2025 09:30:00 +0000"
    message["Message-ID"] = PARENT_ID
    if references:
        message["References"] = references
    message.set_content("Hi Sam,\n\nCould you send the invoice for March again? The PDF was "
                        "empty.\nPlease also confirm the delivery date.\n\nThanks,\nJane Doe\n")
    return message.as_bytes()


def message_resource(raw: bytes, *, message_id: str = MESSAGE_HEX,
                     thread_id: str = THREAD_HEX) -> dict[str, Any]:
    """users.messages.get?format=raw."""
    return {"id": message_id, "threadId": thread_id, "labelIds": ["INBOX"],
            "raw": base64.urlsafe_b64encode(raw).decode()}


def full_message(message_id: str, sender: str, body: str, *, labels: tuple[str, ...] = ("INBOX",),
                 rfc_id: str = "") -> dict[str, Any]:
    """One message of users.threads.get?format=full."""
    data = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return {"id": message_id, "threadId": THREAD_HEX, "labelIds": list(labels), "payload": {
        "mimeType": "multipart/alternative",
        "headers": [{"name": "From", "value": sender},
                    {"name": "Subject", "value": "Invoice 4411 for March"},
                    {"name": "Message-ID", "value": rfc_id or f"<{message_id}@mail.example>"}],
        "parts": [{"mimeType": "text/plain",
                   "headers": [{"name": "Content-Type", "value": "text/plain; charset=utf-8"}],
                   "body": {"size": len(body), "data": data}}]}}


def gmail_url(path: str) -> str:
    return f"{GMAIL_URL}/gmail/v1/users/me{path}"


def gmail_calls(mock: Any) -> list[Any]:
    """The requests of a responses.RequestsMock that went to the Gmail API."""
    return [c for c in mock.calls if c.request.url.startswith(GMAIL_URL)]
