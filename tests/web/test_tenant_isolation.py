"""Tenant isolation: every /api/v1 route, called from tenant B with tenant A's ids, finds nothing.

The walk enumerates the app's URL map, so a route added later without a case here fails
`test_every_api_route_is_walked_with_another_tenants_ids` until someone decides how it is isolated.
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from backend.storage.models import AuditEvent, Draft, Feedback, RoleGrant, User
from tests.conftest import local_headers
from tests.web.drafting_support import draft_body
from tests.web.governance_support import api_routes, me, set_roles

A, B = "tenant-a", "tenant-b"
A_SECRET_WORD = "Zanzibarquux"  # in A's policy only: must never show up in B's answers


@dataclass
class World:
    client: object
    rt: object
    a_user: str          # alice, the admin/drafter of A
    a_victim: str        # another user of A, with drafts and feedback
    a_draft: str         # a draft of a_victim
    a_pseudonyms: set[str]

    def a_values(self) -> list[str]:
        """Strings that identify tenant A's data; none may appear in an answer to B."""
        return [A, self.a_user, self.a_victim, self.a_draft, "alice", "victim", A_SECRET_WORD,
                *self.a_pseudonyms]

    def assert_no_a_data(self, response) -> None:
        body = response.get_data(as_text=True)
        for value in self.a_values():
            assert value not in body, f"tenant A's {value!r} leaked into tenant B's answer"


def _a_rows(rt) -> dict[str, int]:
    with rt.db.session(A) as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model))
                for model in (User, Draft, Feedback, RoleGrant)}


@pytest.fixture
def world(client, rt) -> World:
    a_user = me(client, A, "alice")["user_id"]
    a_victim = me(client, A, "victim")["user_id"]
    policy = {"pii": {"word_lists": {"PROJECT": [A_SECRET_WORD]}}}
    assert client.put("/api/v1/admin/policy", json={"policy": policy},
                      headers=local_headers(A, "alice")).status_code == 200
    draft = client.post("/api/v1/drafts", json=draft_body(),
                        headers=local_headers(A, "victim")).get_json()
    assert client.post(f"/api/v1/drafts/{draft['id']}/feedback", json={"action": "inserted"},
                       headers=local_headers(A, "victim")).status_code == 201
    # Tenant B: bob holds every role but auditor; "bob-auditor" is only an auditor.
    me(client, B, "bob")
    set_roles(client, B, "bob", "bob-auditor", {"auditor"})
    client.post("/api/v1/drafts", json=draft_body(), headers=local_headers(B, "bob"))
    with rt.db.session(A) as session:
        pseudonyms = set(session.scalars(select(AuditEvent.actor)))
    return World(client, rt, a_user, a_victim, draft["id"], pseudonyms)


def _as_b(world: World, method: str, path: str, user: str = "bob", **kwargs):
    return world.client.open(path, method=method, headers=local_headers(B, user), **kwargs)


def _as_a(world: World, method: str, path: str, user: str = "alice", **kwargs):
    return world.client.open(path, method=method, headers=local_headers(A, user), **kwargs)


def _not_found(response) -> None:
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"] == "not_found"


# --- one case per (route, method) -----------------------------------------------------------

def case_create_draft(w: World) -> None:
    response = _as_b(w, "POST", "/api/v1/drafts", json=draft_body())
    assert response.status_code == 200
    w.assert_no_a_data(response)


def case_feedback(w: World) -> None:
    before = _a_rows(w.rt)
    path = f"/api/v1/drafts/{w.a_draft}/feedback"
    _not_found(_as_b(w, "POST", path, json={"action": "discarded", "rating": -1}))
    assert _a_rows(w.rt) == before
    # Control: the owner can give feedback on the very same id.
    assert _as_a(w, "POST", path, user="victim", json={"rating": 1}).status_code == 201


def case_openapi(w: World) -> None:
    response = _as_b(w, "GET", "/api/v1/openapi.json")
    assert response.status_code == 200
    w.assert_no_a_data(response)


def case_me(w: World) -> None:
    response = _as_b(w, "GET", "/api/v1/me")
    assert response.get_json()["tenant_id"] == B
    w.assert_no_a_data(response)


def case_list_users(w: World) -> None:
    response = _as_b(w, "GET", "/api/v1/admin/users")
    assert response.status_code == 200
    assert {u["subject"] for u in response.get_json()["users"]} == {"bob", "bob-auditor"}
    w.assert_no_a_data(response)


def case_grant_role(w: World) -> None:
    before = _a_rows(w.rt)
    path = f"/api/v1/admin/users/{w.a_victim}/roles"
    _not_found(_as_b(w, "POST", path, json={"role": "analyst"}))
    assert _a_rows(w.rt) == before
    assert _as_a(w, "POST", path, json={"role": "analyst"}).status_code == 200


def case_revoke_role(w: World) -> None:
    before = _a_rows(w.rt)
    path = f"/api/v1/admin/users/{w.a_victim}/roles/analyst"
    _not_found(_as_b(w, "DELETE", path))
    assert _a_rows(w.rt) == before
    assert "analyst" in me(w.client, A, "victim")["roles"]
    assert _as_a(w, "DELETE", path).status_code == 200


def case_read_policy(w: World) -> None:
    response = _as_b(w, "GET", "/api/v1/admin/policy")
    assert response.status_code == 200 and response.get_json() == {"policy": {}}
    w.assert_no_a_data(response)


def case_write_policy(w: World) -> None:
    response = _as_b(w, "PUT", "/api/v1/admin/policy", json={"policy": {"retention_days": 9}})
    assert response.status_code == 200
    a_policy = _as_a(w, "GET", "/api/v1/admin/policy").get_json()["policy"]
    assert a_policy["pii"]["word_lists"] == {"PROJECT": [A_SECRET_WORD]}
    assert "retention_days" not in a_policy


def case_read_limits(w: World) -> None:
    _as_a(w, "PUT", "/api/v1/admin/limits", json={"limits": [{"limit": "user_rpm", "value": 7}]})
    response = _as_b(w, "GET", "/api/v1/admin/limits")
    assert response.status_code == 200 and response.get_json()["limits"] == []
    w.assert_no_a_data(response)


def case_write_limits(w: World) -> None:
    _as_a(w, "PUT", "/api/v1/admin/limits", json={"limits": [{"limit": "user_rpm", "value": 7}]})
    assert _as_b(w, "PUT", "/api/v1/admin/limits", json={"limits": []}).status_code == 200
    assert _as_a(w, "GET", "/api/v1/admin/limits").get_json()["limits"] == [
        {"limit": "user_rpm", "value": 7}]


def case_audit_events(w: World) -> None:
    response = _as_b(w, "GET", "/api/v1/audit/events?limit=1000", user="bob-auditor")
    assert response.status_code == 200
    events = response.get_json()["events"]
    assert events and {e["tenant_id"] for e in events} == {B}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    w.assert_no_a_data(response)


def case_audit_verify(w: World) -> None:
    before = len(_as_b(w, "GET", "/api/v1/audit/events?limit=1000",
                       user="bob-auditor").get_json()["events"])
    response = _as_b(w, "GET", "/api/v1/audit/verify", user="bob-auditor")
    assert response.get_json() == {"ok": True, "checked": before, "first_bad": None}
    w.assert_no_a_data(response)


def case_privacy_export(w: World) -> None:
    _not_found(_as_b(w, "GET", f"/api/v1/privacy/export?user_id={w.a_victim}"))
    own = _as_b(w, "GET", "/api/v1/privacy/export")
    assert own.status_code == 200 and own.get_json()["user"]["subject"] == "bob"
    w.assert_no_a_data(own)
    assert _as_a(w, "GET", f"/api/v1/privacy/export?user_id={w.a_victim}").status_code == 200


def case_privacy_erasure(w: World) -> None:
    before = _a_rows(w.rt)
    _not_found(_as_b(w, "POST", "/api/v1/privacy/erasure", json={"user_id": w.a_victim}))
    assert _a_rows(w.rt) == before
    assert _as_a(w, "POST", "/api/v1/privacy/erasure",
                 json={"user_id": w.a_victim}).status_code == 200


def _upload_as_a(w: World) -> str:
    form = {"file": (io.BytesIO(b"Zephyr X200 price list"), f"{A_SECRET_WORD}.txt"),
            "groups": "everyone"}
    response = _as_a(w, "POST", "/api/v1/admin/kb/documents", data=form,
                     content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["document_id"]


def case_list_kb_documents(w: World) -> None:
    _upload_as_a(w)
    response = _as_b(w, "GET", "/api/v1/admin/kb/documents")
    assert response.status_code == 200 and response.get_json()["documents"] == []
    w.assert_no_a_data(response)


def case_upload_kb_document(w: World) -> None:
    a_document = _upload_as_a(w)
    form = {"file": (io.BytesIO(b"other text"), f"{A_SECRET_WORD}.txt"), "groups": "everyone"}
    response = _as_b(w, "POST", "/api/v1/admin/kb/documents", data=form,
                     content_type="multipart/form-data")
    assert response.status_code == 201 and response.get_json()["status"] == "added"
    a_docs = _as_a(w, "GET", "/api/v1/admin/kb/documents").get_json()["documents"]
    assert [d["id"] for d in a_docs] == [a_document]


def case_delete_kb_document(w: World) -> None:
    a_document = _upload_as_a(w)
    _not_found(_as_b(w, "DELETE", f"/api/v1/admin/kb/documents/{a_document}"))
    a_docs = _as_a(w, "GET", "/api/v1/admin/kb/documents").get_json()["documents"]
    assert [d["id"] for d in a_docs] == [a_document]


CASES = {
    ("/api/v1/admin/kb/documents", "GET"): case_list_kb_documents,
    ("/api/v1/admin/kb/documents", "POST"): case_upload_kb_document,
    ("/api/v1/admin/kb/documents/<document_id>", "DELETE"): case_delete_kb_document,
    ("/api/v1/drafts", "POST"): case_create_draft,
    ("/api/v1/drafts/<draft_id>/feedback", "POST"): case_feedback,
    ("/api/v1/openapi.json", "GET"): case_openapi,
    ("/api/v1/me", "GET"): case_me,
    ("/api/v1/admin/users", "GET"): case_list_users,
    ("/api/v1/admin/users/<user_id>/roles", "POST"): case_grant_role,
    ("/api/v1/admin/users/<user_id>/roles/<role>", "DELETE"): case_revoke_role,
    ("/api/v1/admin/policy", "GET"): case_read_policy,
    ("/api/v1/admin/policy", "PUT"): case_write_policy,
    ("/api/v1/admin/limits", "GET"): case_read_limits,
    ("/api/v1/admin/limits", "PUT"): case_write_limits,
    ("/api/v1/audit/events", "GET"): case_audit_events,
    ("/api/v1/audit/verify", "GET"): case_audit_verify,
    ("/api/v1/privacy/export", "GET"): case_privacy_export,
    ("/api/v1/privacy/erasure", "POST"): case_privacy_erasure,
}


def test_every_api_route_is_walked_with_another_tenants_ids(app):
    missing = api_routes(app) - set(CASES)
    assert not missing, f"routes without a tenant-isolation case: {sorted(missing)}"
    assert not set(CASES) - api_routes(app), "cases for routes that no longer exist"


def test_no_route_reveals_or_changes_another_tenants_data(app, world):
    # One world for the whole walk keeps it fast. Cases run in the table's order (erasure, which
    # deletes the victim, last); each ends with a control showing A itself can use the same id.
    for case in CASES.values():
        case(world)


def test_each_tenant_auditor_sees_and_verifies_only_its_own_chain(client, world):
    a_auditor = set_roles(client, A, "alice", "alice-auditor", {"auditor"})
    a_events = client.get("/api/v1/audit/events?limit=1000",
                          headers=local_headers(A, "alice-auditor")).get_json()["events"]
    b_events = client.get("/api/v1/audit/events?limit=1000",
                          headers=local_headers(B, "bob-auditor")).get_json()["events"]
    assert {e["tenant_id"] for e in a_events} == {A} and {e["tenant_id"] for e in b_events} == {B}
    assert not {e["event_id"] for e in a_events} & {e["event_id"] for e in b_events}
    # Each chain is numbered from 1 on its own: B's writes never advance A's sequence.
    assert a_events[0]["seq"] == b_events[0]["seq"] == 1
    assert any(e["target_id"] == a_auditor for e in a_events)
    assert not any(e["target_id"] == a_auditor for e in b_events)
    assert not json.dumps(b_events).count(world.a_draft)
