"""POST /api/v1/drafts/{id}/feedback."""
from __future__ import annotations

from sqlalchemy import select

from backend.storage.models import Feedback
from tests.conftest import local_headers
from tests.web.drafting_support import draft_body


def test_feedback_on_own_draft_is_recorded(client, rt):
    draft = client.post("/api/v1/drafts", json=draft_body()).get_json()
    response = client.post(f"/api/v1/drafts/{draft['id']}/feedback",
                           json={"action": "inserted", "rating": 1})
    assert response.status_code == 201
    assert response.get_json()["action"] == "inserted"
    with rt.db.session("local") as session:
        row = session.scalars(select(Feedback)).one()
        assert (row.action, row.rating, row.final_text) == ("inserted", 1, None)


def test_final_text_gives_an_edit_ratio_only_when_draft_text_is_kept(client, rt):
    draft = client.post("/api/v1/drafts", json=draft_body()).get_json()
    body = client.post(f"/api/v1/drafts/{draft['id']}/feedback",
                       json={"final_text": draft["text"] + " Extra words."}).get_json()
    assert body["edit_ratio"] is None  # nothing kept to compare with, by default
    client.put("/api/v1/admin/policy", json={"policy": {"keep_draft_text": True}})
    rt.caches.get("policies", {}).clear()
    draft = client.post("/api/v1/drafts", json=draft_body()).get_json()
    body = client.post(f"/api/v1/drafts/{draft['id']}/feedback",
                       json={"final_text": draft["text"]}).get_json()
    assert body["edit_ratio"] == 0.0


def test_feedback_on_someone_elses_draft_is_not_found(client):
    draft = client.post("/api/v1/drafts", json=draft_body()).get_json()
    response = client.post(f"/api/v1/drafts/{draft['id']}/feedback", json={"rating": -1},
                           headers=local_headers(user="someone-else"))
    assert response.status_code == 404


def test_feedback_on_unknown_draft_is_not_found(client):
    response = client.post("/api/v1/drafts/doesnotexist/feedback", json={"rating": 1})
    assert response.status_code == 404
