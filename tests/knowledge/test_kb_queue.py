"""With Redis configured, ingestion runs on RQ: jobs are queued, a worker processes them.

These tests need the Redis server at 127.0.0.1:6379 (CI starts it); without it they fail.
"""
from __future__ import annotations

import io
import uuid

import pytest

from backend.services import knowledge_tasks
from tests.conftest import local_headers
from tests.knowledge.conftest import PRICE_FACT
from tests.knowledge.kb_support import pdf_bytes

URL = "/api/v1/admin/kb/documents"
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def queued_app(make_app):
    app = make_app(redis_url=REDIS_URL, kb_queue=f"test-kb-{uuid.uuid4().hex[:8]}")
    yield app
    queue = app.extensions["replywise"].caches.get("kb_queue")
    if queue is not None:
        queue.empty()
        queue.delete(delete_jobs=True)


def test_an_upload_is_queued_and_a_worker_ingests_it(queued_app):
    client, rt = queued_app.test_client(), queued_app.extensions["replywise"]
    headers = local_headers("acme", "boss")
    response = client.post(URL, data={"file": (io.BytesIO(pdf_bytes([PRICE_FACT])), "p.pdf"),
                                      "groups": "sales"},
                           headers=headers, content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    job_id = response.get_json()["job_id"]
    assert client.get(URL, headers=headers).get_json()["documents"] == []

    knowledge_tasks.work(rt, burst=True)

    assert knowledge_tasks.job_states(rt, [job_id]) == {job_id: "finished"}
    assert knowledge_tasks.job_result(rt, job_id)["status"] == "added"
    listed = client.get(URL, headers=headers).get_json()["documents"]
    assert [(d["name"], d["groups"]) for d in listed] == [("p.pdf", ["sales"])]
