"""Who is calling. Local mode (no identity provider configured) trusts loopback only.

Token validation for Entra and Google plugs in here: each produces a Principal, and everything
downstream (roles, tenancy, audit) is the same.
"""
from __future__ import annotations

import re

from flask import Flask, g, request

from backend.errors import Unauthorized, envelope
from backend.governance.identity import LOCAL_IDP, LOCAL_TENANT, Principal, is_loopback
from backend.governance.rbac import PermissionDenied
from backend.services import accounts, audit, identity
from backend.services.runtime import runtime

_LOCAL_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def current_principal() -> Principal:
    """The authenticated caller of this request (resolved once per request)."""
    if "principal" in g:
        return g.principal
    rt = runtime()
    if not rt.settings.local_mode:
        if "entra" not in rt.settings.identity_providers:  # pragma: no cover - Google: own routes
            raise Unauthorized("Sign in to use Replywise.")
        token = identity.bearer_token(request.headers.get("Authorization"))
        g.principal = identity.authenticate_entra(rt, token, client_ip=request.remote_addr,
                                                  user_agent=request.headers.get("User-Agent"))
        g.user_assertion = token
        return g.principal
    if not is_loopback(request.remote_addr):
        raise Unauthorized("This Replywise runs in local mode and accepts requests from this "
                           "machine only. Configure an identity provider to serve others.",
                           code="local_mode_loopback_only")
    tenant = request.headers.get("X-Replywise-Tenant", LOCAL_TENANT)
    subject = request.headers.get("X-Replywise-User", "local-user")
    for header, value in (("X-Replywise-Tenant", tenant), ("X-Replywise-User", subject)):
        if not _LOCAL_NAME.fullmatch(value):
            raise Unauthorized(f"{header} must be 1-64 letters, digits or ._@-")
    principal = Principal(idp=LOCAL_IDP, tenant_id=tenant, subject=subject,
                          display_name=request.headers.get("X-Replywise-Name", "")[:100] or None,
                          client_ip=request.remote_addr,
                          user_agent=request.headers.get("User-Agent"))
    g.principal = accounts.resolve(rt, principal)
    return g.principal


def user_assertion() -> str | None:
    """The caller's validated Entra access token (for on-behalf-of), if this request had one."""
    return g.get("user_assertion")


def init_app(app: Flask) -> None:
    """Denied access is answered with 403 and always leaves an audit event."""

    @app.errorhandler(PermissionDenied)
    def _denied(exc: PermissionDenied):
        principal = g.get("principal")
        if principal is not None:
            rt = runtime()
            with rt.db.session(principal.tenant_id) as session:
                audit.record(rt, session, principal, "access.denied", result="denied",
                             details={"action": exc.action, "path": request.path[:200]})
        from flask import jsonify
        response = jsonify(envelope(exc.code, exc.message, action=exc.action))
        response.status_code = 403
        return response
