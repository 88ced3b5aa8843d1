"""Request validation: the fast compiled check and jsonschema agree on every body."""
from __future__ import annotations

import copy

import pytest

from backend.web import validation
from backend.web.openapi import document
from tests.web.drafting_support import draft_body

# Keywords whose meaning is the same in JSON Schema draft-07 (fastjsonschema) and 2020-12.
SHARED_KEYWORDS = {"$ref", "additionalProperties", "default", "description", "enum", "items",
                   "maxItems", "maxLength", "minProperties", "minimum", "oneOf", "pattern",
                   "properties", "required", "type"}


def _keywords(schema, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            found.add(key)
            if key == "properties":
                for sub in value.values():
                    _keywords(sub, found)
            else:
                _keywords(value, found)
    elif isinstance(schema, list):
        for item in schema:
            _keywords(item, found)
    return found


def test_request_schemas_use_only_keywords_both_validators_read_alike():
    used: set[str] = set()
    for schema in document()["components"]["schemas"].values():
        _keywords(schema, used)
    assert used <= SHARED_KEYWORDS, used - SHARED_KEYWORDS


def _bodies():
    good = draft_body(tone="friendly")
    yield "DraftRequest", good
    yield "DraftRequest", {"message": {"body_text": "Hi"}}
    for path, value in [(("message", "body_text"), 5), (("options", "tone"), "shouty"),
                        (("options", "length"), None), (("message", "to"), "not-a-list"),
                        (("message", "subject"), "x" * 100_000), (("surprise",), 1),
                        (("options", "instructions"), ["list"]), (("message",), "text")]:
        body = copy.deepcopy(good)
        target = body
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
        yield "DraftRequest", body
    yield "DraftRequest", {}
    yield "FeedbackRequest", {"action": "inserted", "rating": 1}
    yield "FeedbackRequest", {"action": "mailed"}
    yield "FeedbackRequest", {"rating": "five"}
    yield "FeedbackRequest", {}


@pytest.mark.parametrize("schema_name,body", list(_bodies()))
def test_fast_check_agrees_with_jsonschema(schema_name, body):
    before = copy.deepcopy(body)
    fast = validation.is_valid(body, schema_name)
    thorough = not list(validation._validator(schema_name).iter_errors(body))
    assert fast == thorough
    assert body == before  # no defaults written into the request


def test_an_invalid_body_still_gets_the_field_named():
    class Request:
        @staticmethod
        def get_json(silent):
            return {"message": {"body_text": 5}}

    with pytest.raises(validation.InvalidField) as raised:
        validation.json_body(Request(), "DraftRequest")
    assert raised.value.extra["field"] == "message.body_text"
