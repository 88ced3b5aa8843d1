"""/admin: the analytics page (analyst, tenant_admin), its CSV exports and browser sign-in.

Server-rendered: one request builds the whole overview (charts are inline SVG), so the page
works without JavaScript; admin.js only submits filters as they change. Never shows message
text: the service reads rollups, not drafts.
"""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask import (Blueprint, Flask, Response, abort, g, jsonify, redirect, render_template,
                   request, session, url_for)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from backend.errors import AppError, Unauthorized, envelope
from backend.governance.identity import Principal
from backend.governance.rbac import PermissionDenied
from backend.services import admin_signin, analytics
from backend.services.runtime import runtime
from backend.web import admin_view
from backend.web.auth import current_principal

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static/admin", static_url_path="/static")

SIGNIN_COOKIE = "replywise_signin"
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
                           "frame-ancestors 'none'; base-uri 'none'")


def admin_principal() -> Principal:
    """The caller: the local identity in local mode, else the signed-in session's person."""
    rt = runtime()
    if rt.settings.local_mode:
        return current_principal()
    if "principal" not in g:
        g.principal = admin_signin.principal_from_session(
            rt, session.get("admin"), client_ip=request.remote_addr,
            user_agent=request.headers.get("User-Agent"))
    return g.principal


@bp.get("/")
@bp.get("")  # registered first, so links say /admin
def overview():
    """The analytics overview for the filters in the query string."""
    principal = admin_principal()
    filters = analytics.Filters.parse(request.args, analytics.today())
    result = analytics.overview(runtime(), principal, filters)
    return render_template("admin/overview.html", o=result, principal=principal,
                           view=admin_view.ViewModel(result), csrf=_csrf_token(),
                           local_mode=runtime().settings.local_mode)


@bp.get("/export/<name>.csv")
def export(name: str):
    """One table of the overview as CSV, for the same filters."""
    principal = admin_principal()
    filters = analytics.Filters.parse(request.args, analytics.today())
    result = analytics.overview(runtime(), principal, filters)
    table = result.tables.get(name)
    if table is None:
        abort(404)
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([admin_view.csv_value(row.get(c.key), c.kind) for c in table.columns])
    response = Response(body.getvalue(), content_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="replywise-{name}-{filters.start}-{filters.end}.csv"')
    return response


@bp.get("/signin")
def signin_page():
    """Choose how to sign in (local mode needs no sign-in)."""
    rt = runtime()
    if rt.settings.local_mode:
        return redirect(url_for("admin.overview"))
    return render_template("admin/signin.html", methods=admin_signin.methods(rt),
                           message=request.args.get("message", "")[:200])


@bp.get("/signin/<method>")
def signin_start(method: str):
    """Send the browser to the identity provider."""
    rt = runtime()
    url, pending = admin_signin.begin(rt, method, _callback_url())
    response = redirect(url)
    # The flow rides in its own short-lived cookie: Microsoft posts the answer back from its
    # own site (form_post), and only a SameSite=None cookie comes along with such a post.
    response.set_cookie(SIGNIN_COOKIE, _serializer().dumps(pending), max_age=600,
                        path="/admin/auth", secure=True, httponly=True, samesite="None")
    return response


@bp.route("/auth/callback", methods=["GET", "POST"])
def signin_callback():
    """The identity provider's answer: finish the flow and open a session."""
    rt = runtime()
    try:
        pending = _serializer().loads(request.cookies.get(SIGNIN_COOKIE, ""), max_age=600)
    except BadSignature:
        raise Unauthorized("This sign-in expired or was started in another browser. Start "
                           "again.", code="signin_failed") from None
    params = {k: v for k, v in (request.form if request.method == "POST" else request.args).items()}
    data = admin_signin.finish(rt, pending, params, client_ip=request.remote_addr,
                               user_agent=request.headers.get("User-Agent"))
    session.clear()
    session["admin"] = data
    session.permanent = True
    response = redirect(url_for("admin.overview"), code=303)
    response.delete_cookie(SIGNIN_COOKIE, path="/admin/auth", secure=True, samesite="None")
    return response


@bp.post("/signout")
def signout():
    """End the session (the form carries the session's CSRF token)."""
    if session.get("csrf") and request.form.get("csrf") == session.get("csrf"):
        session.clear()
    return redirect(url_for("admin.signin_page"), code=303)


def _callback_url() -> str:
    base = runtime().settings.public_base_url
    path = url_for("admin.signin_callback")
    return f"{base}{path}" if base else url_for("admin.signin_callback", _external=True)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime().settings.secret_key, salt="replywise-admin-signin")


def _csrf_token() -> str | None:
    if runtime().settings.local_mode:
        return None
    if "csrf" not in session:
        import secrets
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _wants_html() -> bool:
    return not request.path.endswith(".csv") and request.accept_mimetypes.accept_html


@bp.errorhandler(PermissionDenied)
def _denied(exc: PermissionDenied):
    principal = g.get("principal")
    if principal is not None:
        analytics.record_denied(runtime(), principal, exc.action, request.path)
    if _wants_html():
        return render_template("admin/error.html", status=403, title="No access to analytics",
                               message="Usage analytics are for analysts and tenant admins. "
                                       "Ask a tenant admin to grant you the analyst role.",
                               principal=principal), 403
    return jsonify(envelope(exc.code, exc.message, action=exc.action)), 403


@bp.errorhandler(AppError)
def _app_error(exc: AppError):
    if (exc.status == 401 and _wants_html() and request.endpoint == "admin.overview"
            and not runtime().settings.local_mode):
        return redirect(url_for("admin.signin_page"))
    if _wants_html():
        return render_template("admin/error.html", status=exc.status, title="Something is "
                               "not right", message=exc.message, principal=g.get("principal"),
                               ), exc.status
    response = jsonify(envelope(exc.code, exc.message, **exc.extra))
    response.headers.update(exc.headers())
    return response, exc.status


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "admin.static":
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Register /admin; sessions are signed with REPLYWISE_SECRET_KEY and scoped to /admin."""
    settings = app.extensions["replywise"].settings
    if settings.secret_key:
        app.secret_key = settings.secret_key
    app.config.update(SESSION_COOKIE_NAME="replywise_admin", SESSION_COOKIE_PATH="/admin",
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=admin_signin.SESSION_HOURS))
    app.jinja_env.filters.setdefault("fmt", admin_view.fmt)
    app.register_blueprint(bp)
