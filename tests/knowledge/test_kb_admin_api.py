"""The admin API: upload (multipart), list, delete; roles, limits, media types, tenants."""
from __future__ import annotations

import io

from tests.conftest import local_headers
from tests.knowledge.conftest import PRICE_FACT
from tests.knowledge.kb_support import pdf_bytes
from tests.web.governance_support import set_roles

URL = "/api/v1/admin/kb/documents"


def _upload(client, headers, name="price-list.pdf", data=None, groups="sales", **extra):
    form = {"file": (io.BytesIO(pdf_bytes([PRICE_FACT]) if data is None else data), name),
            **({"groups": groups} if groups is not None else {}), **extra}
    return client.post(URL, data=form, headers=headers, content_type="multipart/form-data")


def test_a_tenant_admin_uploads_lists_and_deletes_a_document(client):
    headers = local_headers("acme", "boss")
    response = _upload(client, headers, groups="sales, support", users="sam")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "added" and body["pages"] == 1 and body["chunks"] == 1
    listed = client.get(URL, headers=headers).get_json()["documents"]
    assert [(d["name"], d["groups"], d["users"]) for d in listed] == [
        ("price-list.pdf", ["sales", "support"], ["sam"])]
    assert _upload(client, headers).get_json()["status"] == "unchanged"
    deleted = client.delete(f"{URL}/{body['document_id']}", headers=headers)
    assert deleted.status_code == 200
    assert client.get(URL, headers=headers).get_json()["documents"] == []


def test_non_admins_are_refused_every_route(client):
    set_roles(client, "acme", "boss", "dan", {"drafter"})
    headers = local_headers("acme", "dan")
    assert _upload(client, headers).status_code == 403
    assert client.get(URL, headers=headers).status_code == 403
    assert client.delete(f"{URL}/1", headers=headers).status_code == 403


def test_another_tenants_document_is_not_found(client):
    created = _upload(client, local_headers("acme", "boss")).get_json()
    other = local_headers("globex", "boss")
    response = client.delete(f"{URL}/{created['document_id']}", headers=other)
    assert response.status_code == 404
    assert client.get(URL, headers=other).get_json()["documents"] == []
    assert len(client.get(URL, headers=local_headers("acme", "boss")).get_json()[
        "documents"]) == 1


def test_a_file_over_the_upload_limit_is_413(make_app):
    client = make_app(kb_max_upload_bytes=4096).test_client()
    response = _upload(client, local_headers("acme", "boss"), data=b"%PDF" + b"x" * 8000)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"]


def test_uploads_above_the_json_body_limit_are_allowed_up_to_the_upload_limit(make_app):
    client = make_app(max_request_bytes=2048).test_client()
    big = pdf_bytes([PRICE_FACT + " " + "filler words " * 400])
    assert len(big) > 2048
    assert _upload(client, local_headers("acme", "boss"), data=big).status_code == 201


def test_json_bodies_and_unknown_file_types_are_415(client):
    headers = local_headers("acme", "boss")
    assert client.post(URL, json={"file": "x"}, headers=headers).status_code == 415
    assert _upload(client, headers, name="tool.exe", data=b"MZ...").status_code == 415


def test_missing_file_or_readers_is_400_and_a_corrupt_file_is_422(client):
    headers = local_headers("acme", "boss")
    no_file = client.post(URL, data={"groups": "sales"}, headers=headers,
                          content_type="multipart/form-data")
    assert no_file.status_code == 400 and no_file.get_json()["error"]["field"] == "file"
    no_groups = _upload(client, headers, groups=None)
    assert no_groups.status_code == 400 and no_groups.get_json()["error"]["field"] == "groups"
    corrupt = _upload(client, headers, name="broken.pdf", data=b"%PDF-1.7 garbage")
    assert corrupt.status_code == 422
    assert corrupt.get_json()["error"]["code"] == "kb_file_corrupt"
    encrypted = _upload(client, headers, name="locked.pdf", data=pdf_bytes(["x"], encrypted=True))
    assert encrypted.get_json()["error"]["code"] == "kb_file_encrypted"


def test_erasure_deletes_the_documents_a_person_uploaded_and_grants_naming_them(client):
    uploader = local_headers("acme", "uploader")
    uploader_id = client.get("/api/v1/me", headers=uploader).get_json()["user_id"]
    assert _upload(client, uploader, name="mine.pdf").status_code == 201
    boss = local_headers("acme", "boss")
    assert _upload(client, boss, name="shared.pdf", groups="sales",
                   users=f"{uploader_id},uploader").status_code == 201
    officer = local_headers("acme", "officer")
    response = client.post("/api/v1/privacy/erasure", json={"user_id": uploader_id},
                           headers=officer)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["deleted"]["kb_documents"] == 1
    listed = client.get(URL, headers=boss).get_json()["documents"]
    assert [(d["name"], d["users"]) for d in listed] == [("shared.pdf", [])]
