"""/api/v1/admin/kb: upload, list and delete knowledge-base documents (tenant_admin)."""
from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from flask import Blueprint, Flask, jsonify, request

from backend.errors import InvalidField, NotFound, PayloadTooLarge, UnsupportedMediaType
from backend.governance import rbac
from backend.knowledge.extract import media_type_for
from backend.services import knowledge, knowledge_tasks
from backend.services.runtime import runtime
from backend.web.auth import current_principal

bp = Blueprint("knowledge_api", __name__, url_prefix="/api/v1/admin/kb")
UPLOAD_PATH = "/api/v1/admin/kb/documents"


@bp.get("/documents")
def list_documents():
    """The tenant's documents and who may read them."""
    return jsonify({"documents": knowledge.list_documents(runtime(), current_principal())})


@bp.post("/documents")
def upload_document():
    """Upload one file as multipart/form-data: file, groups, users (comma-separated)."""
    rt = runtime()
    principal = current_principal()
    rbac.require(principal, "kb.manage")  # before reading a large body for nobody
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Upload the file as multipart/form-data (field 'file').")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidField("file", "'file' is required: the document to add.")
    # Browsers may send a full client path; keep the file's own name only.
    name = PureWindowsPath(PurePosixPath(upload.filename).name).name.strip()[:300]
    if not name or media_type_for(name) is None:
        raise UnsupportedMediaType("Replywise reads PDF, DOCX, HTML, Markdown and plain-text "
                                   "files (.pdf .docx .html .htm .md .txt).")
    limit = rt.settings.kb_max_upload_bytes
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than the {limit}-byte upload limit.")
    status, body = knowledge_tasks.upload(rt, principal, name, data,
                                          groups=_items("groups"), users=_items("users"))
    return jsonify(body), status


@bp.delete("/documents/<document_id>")
def delete_document(document_id: str):
    """Remove a document and its passages; another tenant's id is simply not found."""
    principal = current_principal()
    if not document_id.isdigit():
        rbac.require(principal, "kb.manage")
        raise NotFound("No such document in this tenant's knowledge base.")
    return jsonify(knowledge.remove_document(runtime(), principal, document_id))


def _items(field: str) -> list[str]:
    return [i for value in request.form.getlist(field) for i in value.split(",")]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
