"""The AppError family and the one JSON error envelope every response uses.

`{"error": {"code": "...", "message": "...", "request_id": "..."}}` plus optional `field` or
`retry_after`. Messages are written for the person reading them and never carry redacted values
or tracebacks.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 **extra: Any):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.extra = extra

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(AppError):
    status, code = 400, "invalid_request"


class InvalidField(AppError):
    """A named field is missing or wrong."""

    status, code = 400, "invalid_field"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class UnprocessableContent(AppError):
    status, code = 422, "unprocessable"


class RateLimited(AppError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, limit: str, code: str | None = None):
        super().__init__(message, code=code, retry_after=retry_after, limit=limit)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extra["retry_after"])}


class ServiceUnavailable(AppError):
    status, code = 503, "unavailable"


def _is_connection_loss(exc: DBAPIError) -> bool:
    return bool(exc.connection_invalidated) or isinstance(exc, (OperationalError, InterfaceError))


def _retry_later(code: str, message: str, seconds: int):
    """A 503 in the envelope with Retry-After, for a database that cannot serve right now."""
    response = jsonify(envelope(code, message, retry_after=seconds))
    response.status_code = 503
    response.headers["Retry-After"] = str(seconds)
    return response


def envelope(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The error body: code, message, request id and any extra fields."""
    body: dict[str, Any] = {"code": code, "message": message,
                            "request_id": g.get("request_id") if g else None}
    body.update({k: v for k, v in extra.items() if v is not None})
    return {"error": body}


def _http_error_code(exc: HTTPException) -> str:
    return {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 413: "payload_too_large",
            415: "unsupported_media_type", 429: "rate_limited"}.get(exc.code or 500, "http_error")


def init_app(app: Flask) -> None:
    """Register handlers so every error, expected or not, leaves as the JSON envelope."""

    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        response = jsonify(envelope(exc.code, exc.message, **exc.extra))
        response.status_code = exc.status
        response.headers.update(exc.headers())
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        message = {404: "No such route.", 405: "Method not allowed on this route.",
                   413: "Request body is larger than the configured limit."}.get(
            exc.code or 500, exc.description or exc.name)
        response = jsonify(envelope(_http_error_code(exc), message))
        response.status_code = exc.code or 500
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(exc: DBAPIError):
        if not _is_connection_loss(exc):
            return _unexpected(exc)
        # The database went away (restart, failover, network): the pool has been invalidated,
        # so a retry gets a fresh connection. Nothing was committed by this request.
        log.warning("database connection lost", extra={"error_type": type(exc.orig).__name__})
        return _retry_later("database_unavailable",
                            "The database connection was interrupted; retry shortly.", 1)

    @app.errorhandler(PoolTimeout)
    def _database_busy(exc: PoolTimeout):
        # Every pooled connection stayed busy for the pool timeout: the worker is overloaded.
        # Saying so with Retry-After lets clients and load balancers back off, where a 500
        # would read as a bug.
        log.warning("database pool exhausted")
        return _retry_later("database_busy", "The service is busy; retry in a few seconds.", 2)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        # The traceback goes to the log (with the request id), never to the client.
        log.exception("unhandled error", extra={"error_type": type(exc).__name__})
        response = jsonify(envelope("internal_error",
                                    "Something went wrong on our side; it has been logged."))
        response.status_code = 500
        return response
