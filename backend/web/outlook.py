"""/addin: the Outlook taskpane's static files and the configuration the pane boots with.

The pane is plain HTML/CSS/ES modules with no build step, so this blueprint is its web server:
it picks content types itself (ES modules are refused unless served as JavaScript), sets the
caching and Content-Security-Policy headers, and serves only files that exist under addin/ with
an extension on the allow-list — never a directory listing, never a path outside the folder.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, Response, jsonify, redirect, request, url_for
from werkzeug.security import safe_join

from backend.errors import NotFound
from backend.services.runtime import runtime

ADDIN_DIR = Path(__file__).resolve().parents[2] / "addin"

# Extension -> (content type, Cache-Control). HTML is revalidated on every load so a deploy is
# seen at once; assets are cached briefly because their names carry no content hash.
_TYPES: dict[str, tuple[str, str]] = {
    ".html": ("text/html; charset=utf-8", "no-cache"),
    ".js": ("text/javascript; charset=utf-8", "public, max-age=300"),
    ".mjs": ("text/javascript; charset=utf-8", "public, max-age=300"),
    ".css": ("text/css; charset=utf-8", "public, max-age=300"),
    ".json": ("application/json", "no-cache"),
    ".png": ("image/png", "public, max-age=3600"),
    ".svg": ("image/svg+xml", "public, max-age=3600"),
    ".ico": ("image/x-icon", "public, max-age=3600"),
    ".txt": ("text/plain; charset=utf-8", "public, max-age=300"),
    ".md": ("text/plain; charset=utf-8", "public, max-age=300"),
}

OFFICE_JS_ORIGIN = "https://appsforoffice.microsoft.com"
# Outlook on the web and the new Outlook frame the pane from these origins; desktop hosts
# (WebView2, WKWebView) have no framing ancestor at all.
_FRAME_ANCESTORS = ("'self' https://*.office.com https://*.office365.com https://*.outlook.com "
                    "https://outlook.live.com https://*.cloud.microsoft https://*.microsoft365.com")
# office.js loads its host-specific scripts from its own CDN folder; MSAL is vendored, and with
# nested app authentication its tokens come through the host bridge, so the page itself only
# ever talks to this backend.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    f"script-src 'self' {OFFICE_JS_ORIGIN}",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'none'",
    f"frame-ancestors {_FRAME_ANCESTORS}",
))

MSAL_BUNDLE = "vendor/msal-browser-4.30.0.min.js"

bp = Blueprint("outlook", __name__)


@bp.get("/addin/config.json")
def config():
    """What the pane needs before its first call: identity mode, client id, API scope."""
    settings = runtime().settings
    # script_root keeps both URLs right when Replywise is served under a path prefix.
    response = jsonify({
        "local_mode": settings.local_mode,
        "client_id": settings.entra_spa_client_id or settings.entra_client_id,
        "api_scope": settings.entra_api_scope,
        "api_base": f"{request.script_root}/api/v1",
        "msal_url": url_for("outlook.asset", filename=MSAL_BUNDLE),
    })
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/addin")
@bp.get("/addin/")
def index():
    """The folder itself is not listed: it leads to the taskpane."""
    return redirect(url_for("outlook.asset", filename="taskpane.html"), code=302)


@bp.get("/addin/<path:filename>")
def asset(filename: str) -> Response:
    """One file from addin/, with its content type, caching and (for pages) the CSP."""
    path = _resolve(filename)
    content_type, cache_control = _TYPES[path.suffix.lower()]
    # Read whole (the largest file is the 330 KB MSAL bundle): no file handle outlives the view.
    response = Response(path.read_bytes(), content_type=content_type)
    response.add_etag()
    response.make_conditional(request)
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    if path.suffix.lower() == ".html":
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["Referrer-Policy"] = "same-origin"
    return response


def _resolve(filename: str) -> Path:
    """The file under addin/ that `filename` names, or NotFound; never a path outside it."""
    parts = filename.replace("\\", "/").split("/")
    # Dot-files and dot-folders (editor swap files, .DS_Store, .git) are never served.
    if any(part.startswith(".") or not part for part in parts):
        raise NotFound("No such file in the add-in.")
    joined = safe_join(str(ADDIN_DIR), *parts)
    if joined is None:
        raise NotFound("No such file in the add-in.")
    path = Path(joined).resolve()
    if ADDIN_DIR not in path.parents or not path.is_file() \
            or path.suffix.lower() not in _TYPES:
        raise NotFound("No such file in the add-in.")
    return path


def init_app(app: Flask) -> None:
    """Serve the add-in's files and configuration."""
    app.register_blueprint(bp)
