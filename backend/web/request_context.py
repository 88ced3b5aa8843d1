"""Per-request plumbing: request ids, body size and media type checks, identity mode header."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, current_app, g, request

from backend.errors import PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger("replywise.access")

_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Routes whose POST body is a file upload rather than JSON (issue 8, knowledge base).
_UPLOAD_PATHS = frozenset({"/api/v1/admin/kb/documents"})


def init_app(app: Flask) -> None:
    """Install the before/after hooks and the request size limit."""
    app.config["MAX_CONTENT_LENGTH"] = app.extensions["replywise"].settings.max_request_bytes

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        # A caller-supplied id is kept for tracing across services, but only in a safe shape.
        g.request_id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        upload = request.method == "POST" and request.path in _UPLOAD_PATHS
        if upload:  # knowledge-base files: multipart, with their own (larger) limit
            limit = current_app.extensions["replywise"].settings.kb_max_upload_bytes
            request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise PayloadTooLarge(f"Request body is {request.content_length} bytes; the limit "
                                  f"is {limit}.")
        if request.method in {"POST", "PUT", "PATCH"} and request.path.startswith("/api/"):
            if request.content_length and not request.is_json and not upload:
                raise UnsupportedMediaType("Send the request body as application/json.")

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if current_app.extensions["replywise"].settings.local_mode:
            # Say plainly that no identity provider vouched for this caller.
            response.headers["X-Replywise-Identity"] = "local"
        if not response.is_streamed:
            log.info("request", extra={
                "method": request.method, "path": request.path, "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter()))
                                     * 1000, 2)})
        return response
