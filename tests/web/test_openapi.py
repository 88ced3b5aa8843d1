"""The OpenAPI document matches the real routes, and real answers match its schemas."""
from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from backend.web.openapi import document
from tests.web.drafting_support import draft_body, parse_sse


def _validator(name: str) -> Draft202012Validator:
    doc = document()
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                 "components": doc["components"]})


def test_document_is_openapi_3_1_and_its_schemas_are_valid_json_schema():
    doc = document()
    assert doc["openapi"].startswith("3.1")
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_api_route_is_documented_and_nothing_else_is(app):
    documented = {(path, method.upper())
                  for path, item in document()["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((path, method))
    assert routed == documented


def test_served_document_equals_the_module_document(client):
    assert client.get("/api/v1/openapi.json").get_json() == document()


def test_a_real_draft_matches_the_draft_schema(client):
    draft = client.post("/api/v1/drafts", json=draft_body()).get_json()
    errors = list(_validator("Draft").iter_errors(draft))
    assert errors == []


def test_the_streamed_done_event_matches_the_draft_schema(client):
    response = client.post("/api/v1/drafts", json=draft_body(),
                           headers={"Accept": "text/event-stream"})
    name, data = parse_sse(response.get_data(as_text=True))[-1]
    assert name == "done"
    assert list(_validator("Draft").iter_errors(data)) == []


def test_error_answers_match_the_error_schema(client):
    response = client.post("/api/v1/drafts", json={})
    assert list(_validator("Error").iter_errors(response.get_json())) == []


def test_feedback_answer_matches_its_schema(client):
    draft = client.post("/api/v1/drafts", json=draft_body()).get_json()
    answer = client.post(f"/api/v1/drafts/{draft['id']}/feedback",
                         json={"action": "discarded"}).get_json()
    assert list(_validator("Feedback").iter_errors(answer)) == []
