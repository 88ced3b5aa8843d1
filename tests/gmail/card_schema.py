"""Google's card schema as JSON Schema, for checking every card the add-on answers with.

GoogleAppsCardV1Card and everything it references come from the Chat API discovery document
that google-api-python-client ships (the `test` extra installs it only for this). Discovery
schemas are converted to JSON Schema with additionalProperties false, so a misspelled field
fails as surely as a wrong enum value. The wrappers around cards (renderActions, hostAppAction,
requesting_google_scopes) follow Google's published add-on response schema.
"""
from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

CARD = "GoogleAppsCardV1Card"


def discovery_document() -> dict[str, Any]:
    spec = importlib.util.find_spec("googleapiclient")
    assert spec and spec.submodule_search_locations, \
        "google-api-python-client is needed for the card schema (pip install -e '.[test]')"
    path = (Path(list(spec.submodule_search_locations)[0]) / "discovery_cache" / "documents"
            / "chat.v1.json")
    return json.loads(path.read_text(encoding="utf-8"))


def convert(node: dict[str, Any]) -> dict[str, Any]:
    """One discovery schema (or property) as JSON Schema."""
    if "$ref" in node:
        return {"$ref": f"#/$defs/{node['$ref']}"}
    kind = node.get("type")
    if kind == "object":
        out: dict[str, Any] = {"type": "object"}
        if "properties" in node:
            out["properties"] = {name: convert(prop) for name, prop in node["properties"].items()}
            out["additionalProperties"] = False
        elif "additionalProperties" in node:
            out["additionalProperties"] = convert(node["additionalProperties"])
        return out
    if kind == "array":
        return {"type": "array", "items": convert(node.get("items", {}))}
    if kind == "string":
        return {"type": "string", **({"enum": node["enum"]} if "enum" in node else {})}
    if kind in ("integer", "number", "boolean"):
        return {"type": kind}
    return {}  # "any"


def _response_schema() -> dict[str, Any]:
    def strict(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"type": "object", "properties": properties, "additionalProperties": False,
                **extra}
    card = {"$ref": f"#/$defs/{CARD}"}
    navigation = strict({"pushCard": card, "updateCard": card, "popToRoot": {"type": "boolean"},
                         "pop": {"type": "boolean"}, "popToCard": {"type": "string"}},
                        minProperties=1, maxProperties=1)
    action = strict({"navigations": {"type": "array", "items": navigation, "minItems": 1},
                     "notification": strict({"text": {"type": "string"}}, required=["text"])})
    insert = strict({"content": {"type": "string"},
                     "contentType": {"enum": ["TEXT", "MUTABLE_HTML", "IMMUTABLE_HTML"]}},
                    required=["content", "contentType"])
    gmail_action = strict({
        "updateDraftActionMarkup": strict({"updateBody": strict(
            {"insertContents": {"type": "array", "items": insert, "minItems": 1},
             "type": {"enum": ["IN_PLACE_INSERT", "INSERT_AT_START", "INSERT_AT_END"]}},
            required=["insertContents", "type"])}),
        "openCreatedDraftActionMarkup": strict(
            {"draftId": {"type": "string", "minLength": 1},
             "draftThreadId": {"type": "string", "minLength": 1}},
            required=["draftId", "draftThreadId"])}, minProperties=1, maxProperties=1)
    render = strict({"action": action,
                     "hostAppAction": strict({"gmailAction": gmail_action},
                                             required=["gmailAction"])}, minProperties=1)
    scopes = strict({"scopes": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
                    required=["scopes"])
    return strict({"renderActions": render, "requesting_google_scopes": scopes},
                  minProperties=1, maxProperties=1)


@lru_cache(maxsize=None)
def _defs() -> dict[str, Any]:
    return {name: convert(schema) for name, schema in discovery_document()["schemas"].items()}


@lru_cache(maxsize=None)
def response_validator() -> Draft202012Validator:
    """Validates a whole add-on answer: the wrapper and every card in it."""
    return Draft202012Validator({**_response_schema(), "$defs": _defs()})


@lru_cache(maxsize=None)
def card_validator() -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/$defs/{CARD}", "$defs": _defs()})


def errors(answer: dict[str, Any]) -> list[str]:
    """Every schema violation in an answer, as readable strings (empty: valid)."""
    found = sorted(response_validator().iter_errors(answer), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(answer)'}: {e.message}" for e in found]


def cards_in(answer: dict[str, Any]) -> list[dict[str, Any]]:
    navigations = answer.get("renderActions", {}).get("action", {}).get("navigations", [])
    return [card for nav in navigations for card in nav.values() if isinstance(card, dict)]
