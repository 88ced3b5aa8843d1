"""The knowledge-base part of the OpenAPI document: admin routes and the Source schema."""
from __future__ import annotations

from typing import Any

SOURCE = {
    "type": "object", "required": ["n", "document_id", "document", "page", "cited"],
    "description": "A passage of a company document given to the drafter; the draft cites it "
                   "as [n]. Show the cited ones under the draft: document and page.",
    "properties": {
        "n": {"type": "integer", "minimum": 1},
        "document_id": {"type": "string"},
        "document": {"type": "string", "description": "Document name (file name)"},
        "page": {"type": ["integer", "null"], "description": "Page number; null for formats "
                                                             "without pages (HTML, text)"},
        "excerpt": {"type": "string", "description": "The passage's first words"},
        "cited": {"type": "boolean", "description": "The draft text contains [n]"},
    },
}

_DOCUMENT = {
    "type": "object", "required": ["id", "name", "groups", "users", "pages", "chunks"],
    "properties": {
        "id": {"type": "string"}, "name": {"type": "string"}, "source": {"type": "string"},
        "media_type": {"type": "string"}, "pages": {"type": "integer"},
        "chunks": {"type": "integer"}, "size_bytes": {"type": "integer"},
        "content_hash": {"type": "string"},
        "groups": {"type": "array", "items": {"type": "string"}},
        "users": {"type": "array", "items": {"type": "string"}},
        "owner_user_id": {"type": ["string", "null"]},
        "created_at": {"type": "string"}, "updated_at": {"type": "string"},
    },
}

_UPLOAD_FORM = {
    "type": "object", "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "PDF, DOCX, HTML, Markdown or plain text"},
        "groups": {"type": "string", "description": "Comma-separated groups that may read it: "
                                                    "Entra group object ids or database group "
                                                    "names ('everyone': the whole tenant)"},
        "users": {"type": "string", "description": "Comma-separated user ids or subjects"},
    },
}

_UPLOAD_RESULT = {
    "type": "object", "required": ["status"],
    "properties": {
        "status": {"enum": ["added", "replaced", "unchanged", "queued"]},
        "document_id": {"type": ["string", "null"]},
        "job_id": {"type": "string", "description": "When queued (RQ): the job's id"},
        "pages": {"type": "integer"}, "chunks": {"type": "integer"},
    },
}

SCHEMAS = {"Source": SOURCE, "KbDocument": _DOCUMENT, "KbUploadResult": _UPLOAD_RESULT}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Invalid request (names the field)", 401: "Not signed in",
            403: "Forbidden (needs kb.manage: tenant_admin)", 404: "Not found",
            413: "File too large", 415: "Not multipart/form-data, or a file type Replywise "
                                        "does not read",
            422: "The file is corrupt, encrypted or has no text",
            503: "The ingest queue is unavailable"}
    return {str(c): {"description": text[c], "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in codes}


def _json(ref: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def paths() -> dict[str, Any]:
    """/api/v1/admin/kb routes (tenant_admin)."""
    return {
        "/api/v1/admin/kb/documents": {
            "get": {"operationId": "listKbDocuments",
                    "summary": "Knowledge-base documents and who may read them (tenant_admin)",
                    "responses": {"200": {"description": "OK", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"documents": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/KbDocument"}}}}}}},
                        **_errors(401, 403)}},
            "post": {"operationId": "uploadKbDocument",
                     "summary": "Upload a document (multipart/form-data); re-uploading a name "
                                "replaces it, an identical file is left as it is",
                     "requestBody": {"required": True, "content": {
                         "multipart/form-data": {"schema": _UPLOAD_FORM}}},
                     "responses": {"201": {"description": "Ingested", **_json("KbUploadResult")},
                                   "202": {"description": "Queued for a worker (Redis set)",
                                           **_json("KbUploadResult")},
                                   **_errors(400, 401, 403, 413, 415, 422, 503)}}},
        "/api/v1/admin/kb/documents/{document_id}": {
            "delete": {"operationId": "deleteKbDocument",
                       "summary": "Remove a document and its passages (tenant_admin)",
                       "parameters": [{"name": "document_id", "in": "path", "required": True,
                                       "schema": {"type": "string"}}],
                       "responses": {"200": {"description": "Removed", "content": {
                           "application/json": {"schema": {"type": "object"}}}},
                           **_errors(401, 403, 404)}}},
    }
