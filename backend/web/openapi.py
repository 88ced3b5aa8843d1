"""The OpenAPI 3.1 description of /api/v1. Its schemas also validate incoming requests, so the
document cannot drift from what the code accepts; tests check responses against it too."""
from __future__ import annotations

from typing import Any

from backend.web import openapi_knowledge

_ADDRESS = {"oneOf": [
    {"type": "string", "maxLength": 400, "description": "\"Name <address>\" or an address"},
    {"type": "object", "additionalProperties": False, "required": ["email"],
     "properties": {"name": {"type": "string", "maxLength": 200},
                    "email": {"type": "string", "maxLength": 320}}},
]}

_MESSAGE = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "subject": {"type": "string", "maxLength": 2000},
        "from": {"$ref": "#/components/schemas/Address"},
        "to": {"type": "array", "maxItems": 500, "items": {"$ref": "#/components/schemas/Address"}},
        "cc": {"type": "array", "maxItems": 500, "items": {"$ref": "#/components/schemas/Address"}},
        "date": {"type": "string", "maxLength": 100},
        "body_html": {"type": "string"},
        "body_text": {"type": "string"},
        "message_id": {"type": "string", "maxLength": 1000},
        "conversation_id": {"type": "string", "maxLength": 1000,
                            "description": "Outlook's item.conversationId: with surface "
                                           "outlook, an Entra token and the tenant's "
                                           "graph_context policy, the thread is read from Graph"},
        "thread": {"type": "array", "maxItems": 100,
                   "description": "Earlier messages of the thread, oldest first",
                   "items": {"$ref": "#/components/schemas/Message"}},
    },
}

_OPTIONS = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "tone": {"enum": ["formal", "neutral", "friendly", "direct"], "default": "neutral"},
        "length": {"enum": ["short", "medium", "long"], "default": "medium"},
        "language": {"type": "string", "pattern": "^[a-z]{2}(-[A-Za-z]{2})?$",
                     "description": "ISO 639-1; default: the language of the message"},
        "instructions": {"type": "string", "maxLength": 1000},
        "refine": {"enum": ["shorter", "longer", "more_formal"],
                   "description": "Rewrite previous_draft instead of drafting anew"},
        "previous_draft": {"type": "string", "maxLength": 50000},
        "grounding": {"type": "boolean", "default": True,
                      "description": "Use the company documents the user may read (when the "
                                     "tenant has any); false drafts from the email alone"},
    },
}

_DRAFT_REQUEST = {
    "type": "object", "additionalProperties": False,
    "description": "Exactly one of message or raw_message.",
    "properties": {
        "message": {"$ref": "#/components/schemas/Message"},
        "raw_message": {"type": "string", "description": "RFC 822 message, base64-encoded"},
        "options": {"$ref": "#/components/schemas/DraftOptions"},
        "surface": {"enum": ["api", "cli", "outlook", "gmail"], "default": "api"},
        "regenerate": {"type": "boolean", "default": False,
                       "description": "Draft anew even if an identical request was answered "
                                      "recently (skips the draft cache)"},
    },
}

_USAGE = {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
          "properties": {k: {"type": "integer", "minimum": 0}
                         for k in ("prompt_tokens", "completion_tokens", "total_tokens")}}

_DRAFT = {
    "type": "object",
    "required": ["id", "text", "html", "provider", "model", "status", "offline_fallback",
                 "language", "usage", "cost_usd", "timings", "attempts", "failovers", "pii",
                 "identity"],
    "properties": {
        "id": {"type": "string"}, "text": {"type": "string"}, "html": {"type": "string"},
        "provider": {"type": "string"}, "model": {"type": "string"},
        "status": {"enum": ["completed", "offline"]},
        "offline_fallback": {"type": "boolean"},
        "notice": {"type": ["string", "null"]},
        "language": {"type": "string"},
        "usage": {"$ref": "#/components/schemas/Usage"},
        "cost_usd": {"type": "string", "description": "Decimal, USD"},
        "timings": {"type": "object", "required": ["total_ms"],
                    "properties": {"total_ms": {"type": "integer"},
                                   "ttft_ms": {"type": ["integer", "null"]}}},
        "attempts": {"type": "integer"}, "failovers": {"type": "integer"},
        "pii": {"type": "object", "additionalProperties": {"type": "integer"},
                "description": "Counts of redacted values by type (never the values)"},
        "identity": {"enum": ["local", "token"]},
        "cached": {"type": "boolean",
                   "description": "Answered from the draft cache (no provider call, no cost)"},
        "sources": {"type": "array", "items": {"$ref": "#/components/schemas/Source"},
                    "description": "Knowledge passages given to the drafter, cited as [n]"},
    },
}

_FEEDBACK_REQUEST = {
    "type": "object", "additionalProperties": False, "minProperties": 1,
    "properties": {
        "action": {"enum": ["inserted", "discarded"]},
        "rating": {"enum": [-1, 1]},
        "final_text": {"type": "string", "maxLength": 200000,
                       "description": "The text the user finally sent (kept only when the "
                                      "tenant retains draft text)"},
    },
}

_FEEDBACK = {"type": "object", "required": ["id", "draft_id"],
             "properties": {"id": {"type": "string"}, "draft_id": {"type": "string"},
                            "action": {"type": ["string", "null"]},
                            "rating": {"type": ["integer", "null"]},
                            "edit_ratio": {"type": ["number", "null"]}}}

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "request_id"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "request_id": {"type": ["string", "null"]},
                   "field": {"type": "string"},
                   "limit": {"type": "string", "description": "429: the limit that refused, "
                                                             "e.g. user_rpm"},
                   "retry_after": {"type": "integer", "description": "429/503: seconds"}}}}}


_ROLE_GRANT = {"type": "object", "additionalProperties": False, "required": ["role"],
               "properties": {"role": {"enum": ["drafter", "analyst", "tenant_admin", "auditor",
                                                "privacy_officer"]}}}
_POLICY_DOCUMENT = {"type": "object", "additionalProperties": False, "required": ["policy"],
                    "properties": {"policy": {"type": "object", "description":
                        "pii {actions, custom_patterns, word_lists, default_region}, providers "
                        "{allow, models, regions}, keep_draft_text, retention_days, "
                        "graph_context"}}}
_LIMIT_NAMES = ["user_rpm", "tenant_rpm", "user_daily_tokens", "user_monthly_tokens",
                "team_daily_tokens", "team_monthly_tokens", "tenant_daily_tokens",
                "tenant_monthly_tokens"]
_LIMITS_DOCUMENT = {
    "type": "object", "additionalProperties": False, "required": ["limits"],
    "properties": {"limits": {
        "type": "array", "maxItems": 10000,
        "description": "Every rule of the tenant (PUT replaces them all). Without user_id or "
                       "team a rule is the default for every user (team); with one it "
                       "overrides the default. No rule: no cap. Windows: the minute, the UTC "
                       "day, the UTC month.",
        "items": {"type": "object", "additionalProperties": False, "required": ["limit", "value"],
                  "properties": {"limit": {"enum": _LIMIT_NAMES},
                                 "value": {"type": "integer", "minimum": 0},
                                 "user_id": {"type": "string", "maxLength": 100},
                                 "team": {"type": "string", "maxLength": 100}}}}}}
_ERASURE = {"type": "object", "additionalProperties": False, "required": ["user_id"],
            "properties": {"user_id": {"type": "string", "maxLength": 64}}}
_OBJECT = {"type": "object"}


def _json(schema_ref: str | None = None) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{schema_ref}"} if schema_ref else _OBJECT
    return {"content": {"application/json": {"schema": schema}}}


def _op(op_id: str, summary: str, errors: tuple[int, ...], body: str | None = None,
        response: str | None = None, params: list | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": op_id, "summary": summary,
                                 "responses": {"200": {"description": "OK", **_json(response)},
                                               **_error_responses(*errors)}}
    if body:
        operation["requestBody"] = {"required": True, **_json(body)}
    if params:
        operation["parameters"] = params
    return operation


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query_param(name: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": {"type": kind}}


def _governance_paths() -> dict[str, Any]:
    auth = (401, 403)
    return {
        "/api/v1/me": {"get": _op("me", "The caller's identity and roles", (401,))},
        "/api/v1/admin/users": {"get": _op("listUsers", "Users and roles (tenant_admin)", auth)},
        "/api/v1/admin/users/{user_id}/roles": {"post": _op(
            "grantRole", "Grant a role (tenant_admin); 409 on separation of duties",
            (400, 401, 403, 404, 409, 415), body="RoleGrantRequest",
            params=[_path_param("user_id")])},
        "/api/v1/admin/users/{user_id}/roles/{role}": {"delete": _op(
            "revokeRole", "Revoke a role (tenant_admin)", (401, 403, 404),
            params=[_path_param("user_id"), _path_param("role")])},
        "/api/v1/admin/policy": {
            "get": _op("readPolicy", "The tenant policy (tenant_admin)", auth),
            "put": _op("writePolicy", "Replace the tenant policy (tenant_admin)",
                       (400, 401, 403, 415), body="PolicyDocument")},
        "/api/v1/admin/limits": {
            "get": _op("readLimits", "Rate limits and token budgets, with the tenant's usage "
                                     "in the current windows (tenant_admin)", auth),
            "put": _op("writeLimits", "Replace the rate limits and token budgets "
                                      "(tenant_admin)", (400, 401, 403, 415),
                       body="LimitsDocument")},
        "/api/v1/audit/events": {"get": _op(
            "auditEvents", "Audit events in chain order (auditor)", (400, 401, 403),
            params=[_query_param("after_seq", "integer"), _query_param("limit", "integer")])},
        "/api/v1/audit/verify": {"get": _op("auditVerify", "Verify the hash chain (auditor)",
                                            auth)},
        "/api/v1/privacy/export": {"get": _op(
            "privacyExport", "Everything held about the caller, or user_id (privacy_officer)",
            (401, 403, 404), params=[_query_param("user_id")])},
        "/api/v1/privacy/erasure": {"post": _op(
            "privacyErasure", "Erase a person's data (privacy_officer)",
            (400, 401, 403, 404, 415), body="ErasureRequest")},
    }


def _error_responses(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid request (names the field)", 401: "Not signed in", 403: "Forbidden",
            404: "Not found", 409: "Conflict", 413: "Body too large", 415: "Not JSON",
            422: "Refused by policy",
            429: "Rate limited or budget used up (names the limit; Retry-After)",
            503: "Overloaded, providers at capacity, limits unavailable, or the database busy "
                 "or unreachable (Retry-After)"}
    return {str(c): {"description": text[c], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in codes}


def document() -> dict[str, Any]:
    """The OpenAPI document served at /api/v1/openapi.json."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Replywise API", "version": "1",
                 "description": "Draft email replies grounded in the thread. Replywise never "
                                "sends mail: drafts go back to the user's mail client."},
        "paths": {
            "/api/v1/drafts": {"post": {
                "operationId": "createDraft",
                "summary": "Draft a reply (JSON, or a stream with Accept: text/event-stream)",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/DraftRequest"}}}},
                "responses": {
                    "200": {"description": "The draft. As an event stream: `delta` events "
                                           "({text}), `reset` events ({reason}: discard text so "
                                           "far), then one `done` (a Draft) or one `error`.",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/Draft"}},
                                "text/event-stream": {"schema": {"type": "string"}}}},
                    **_error_responses(400, 401, 403, 413, 415, 422, 429, 503)}}},
            "/api/v1/drafts/{draft_id}/feedback": {"post": {
                "operationId": "giveFeedback",
                "summary": "Inserted or discarded, a rating, and optionally the final text",
                "parameters": [{"name": "draft_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/FeedbackRequest"}}}},
                "responses": {"201": {"description": "Recorded", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Feedback"}}}},
                    **_error_responses(400, 401, 403, 404, 413, 415)}}},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {}}}}}},
            **_governance_paths(),
            **openapi_knowledge.paths(),
        },
        "components": {"schemas": {
            "Address": _ADDRESS, "Message": _MESSAGE, "DraftOptions": _OPTIONS,
            "DraftRequest": _DRAFT_REQUEST, "Draft": _DRAFT, "Usage": _USAGE,
            "FeedbackRequest": _FEEDBACK_REQUEST, "Feedback": _FEEDBACK, "Error": _ERROR,
            "RoleGrantRequest": _ROLE_GRANT, "PolicyDocument": _POLICY_DOCUMENT,
            **openapi_knowledge.SCHEMAS, "ErasureRequest": _ERASURE, "LimitsDocument": _LIMITS_DOCUMENT,
        }},
    }
