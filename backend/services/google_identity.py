"""Signing in from the Gmail add-on: Google-signed tokens become a Principal of a tenant.

Order matters: first that Google sent the request for this deployment (system token), then who
the user is (userIdToken), then which tenant their Workspace domain is enrolled for. Nothing
reads mail before all three passed. Failures are logged, not audited: until the tenant is known
there is no trail to write to, and a forged request must not be able to write to one.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from backend.errors import ServiceUnavailable, Unauthorized
from backend.governance import google_tokens
from backend.governance.identity import Principal
from backend.providers.gmail import ADDON_SCOPES, SCOPE_EMAIL, SCOPE_EXECUTE
from backend.providers.google_certs import CertsUnavailable, GoogleCerts
from backend.services import accounts, tenant_domains
from backend.services.runtime import Runtime

log = logging.getLogger(__name__)

GOOGLE_IDP = "google"
# Every path Google calls; when no audiences are configured they are derived from
# REPLYWISE_PUBLIC_BASE_URL and these (the ID token's audience is the URL Google called).
ENDPOINT_PATHS = ("/gmail/homepage", "/gmail/message", "/gmail/compose", "/gmail/draft",
                  "/gmail/open-reply", "/gmail/insert")
_LEEWAY_S = 60


class DomainNotEnrolled(Exception):
    """A genuine Google user whose Workspace domain is no tenant (or a consumer account)."""

    def __init__(self, domain: str | None):
        super().__init__(domain or "consumer account")
        self.domain = domain


class ScopesRequired(Exception):
    """The user has not granted what this action needs; Google should ask them."""

    def __init__(self, scopes: Iterable[str]):
        self.scopes = list(dict.fromkeys(scopes))
        super().__init__(", ".join(self.scopes))


def authenticate(rt: Runtime, authorization: str | None, user_id_token: str | None, *,
                 client_ip: str | None = None, user_agent: str | None = None) -> Principal:
    """Verify a Gmail add-on request and return the caller, created on first sight.

    401 (Unauthorized) when the request is not from Google for this deployment;
    DomainNotEnrolled when it is, but for a user no tenant has enrolled.
    """
    settings = rt.settings
    if not settings.google_addon_service_account or not settings.google_oauth_client_id:
        raise ServiceUnavailable("The Gmail add-on is not configured on this server.",
                                 code="gmail_not_configured")
    system_token = _bearer(authorization)
    certs = _certs(rt)
    try:
        google_tokens.verify_system_token(
            system_token, key_for=certs.key_for, audiences=audiences(rt),
            service_account=settings.google_addon_service_account, leeway_s=_LEEWAY_S)
    except google_tokens.GoogleTokenError as exc:
        log.info("gmail add-on request rejected", extra={"reason": exc.reason,
                                                          "checked": "system token"})
        raise Unauthorized("This endpoint answers Google Workspace only.",
                           code="invalid_google_token") from None
    except CertsUnavailable:
        raise _certs_down() from None
    if not user_id_token:
        # Granular consent: without the email scope Google sends no userIdToken.
        raise ScopesRequired([SCOPE_EXECUTE, SCOPE_EMAIL])
    try:
        user = google_tokens.verify_user_token(user_id_token, key_for=certs.key_for,
                                               client_id=settings.google_oauth_client_id,
                                               leeway_s=_LEEWAY_S)
    except google_tokens.GoogleTokenError as exc:
        log.info("gmail add-on request rejected", extra={"reason": exc.reason,
                                                          "checked": "user token"})
        raise Unauthorized("The user's Google identity could not be verified.",
                           code="invalid_google_token") from None
    except CertsUnavailable:
        raise _certs_down() from None
    tenant_id = tenant_domains.tenant_for_domain(rt, user.hosted_domain)
    if tenant_id is None:
        log.info("gmail user from a domain that is not enrolled",
                 extra={"domain": user.hosted_domain or "(consumer account)"})
        raise DomainNotEnrolled(user.hosted_domain)
    principal = Principal(idp=GOOGLE_IDP, tenant_id=tenant_id, subject=user.subject,
                          email=user.email, display_name=user.name, client_ip=client_ip,
                          user_agent=user_agent)
    return accounts.resolve(rt, principal)


def audiences(rt: Runtime) -> tuple[str, ...]:
    """The endpoint URLs a system token may be addressed to."""
    settings = rt.settings
    if settings.google_endpoint_audiences:
        return settings.google_endpoint_audiences
    base = settings.public_base_url.rstrip("/")
    return tuple(base + path for path in ENDPOINT_PATHS) if base else ()


def all_scopes() -> list[str]:
    """Everything the deployment descriptor declares (for a consent request)."""
    return list(ADDON_SCOPES)


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        log.info("gmail add-on request rejected", extra={"reason": "no bearer token",
                                                          "checked": "system token"})
        raise Unauthorized("This endpoint answers Google Workspace only.",
                           code="invalid_google_token")
    return token.strip()


def _certs(rt: Runtime) -> GoogleCerts:
    certs = rt.caches.get("google_certs")
    if certs is None:
        certs = rt.caches.setdefault("google_certs", GoogleCerts(rt.settings.google_certs_url))
    return certs  # type: ignore[return-value]


def _certs_down() -> ServiceUnavailable:
    return ServiceUnavailable("Google's sign-in certificates could not be fetched; try again "
                              "in a minute.", code="identity_unavailable")
