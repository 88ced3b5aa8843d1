"""Request bodies are validated against the OpenAPI document's own schemas.

Two validators over the same schema: fastjsonschema compiles it to Python once and answers
"valid?" in tens of microseconds on every request; only an invalid body then goes through
jsonschema, whose errors name the field and the rule. The schemas use only keywords both read
alike (tests/web/test_validation.py keeps that true).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import fastjsonschema
from flask import Request
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from backend.errors import InvalidField, InvalidRequest
from backend.web.openapi import document

_REQUIRED = re.compile(r"^'([^']+)' is a required property")
_EXTRA = re.compile(r"\('([^']+)' was unexpected\)")


def _schema(schema_name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{schema_name}", "components": document()["components"]}


@lru_cache(maxsize=None)
def _validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator(_schema(schema_name))


@lru_cache(maxsize=None)
def _fast_check(schema_name: str):
    # use_default=False: validation must not write schema defaults into the request body.
    return fastjsonschema.compile(_schema(schema_name), use_default=False)


def is_valid(body: Any, schema_name: str) -> bool:
    try:
        _fast_check(schema_name)(body)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def json_body(request: Request, schema_name: str) -> dict[str, Any]:
    """The request's JSON object, valid against `schema_name`, or a 400 naming the field."""
    body = request.get_json(silent=True)
    if body is None:
        raise InvalidRequest("The request body must be a JSON object.", code="malformed_json")
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="malformed_json")
    if is_valid(body, schema_name):
        return body
    error = next(iter(sorted(_validator(schema_name).iter_errors(body),
                             key=lambda e: (len(e.absolute_path), str(e.absolute_path)))), None)
    if error is not None:
        raise _as_field_error(error)
    return body


def _as_field_error(error: ValidationError) -> InvalidField:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "required":
        match = _REQUIRED.match(error.message)
        name = match.group(1) if match else "?"
        field = f"{path}.{name}" if path else name
        return InvalidField(field, f"'{field}' is required.")
    if error.validator == "additionalProperties":
        match = _EXTRA.search(error.message)
        name = match.group(1) if match else "?"
        field = f"{path}.{name}" if path else name
        return InvalidField(field, f"'{field}' is not a known field.")
    field = path or "body"
    # jsonschema's message can quote the whole offending value (possibly an email body):
    # describe the rule instead of echoing content.
    return InvalidField(field, f"'{field}' is invalid: {_rule(error)}.")


def _rule(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "enum":
        return "must be one of " + ", ".join(repr(v) for v in schema.get("enum", []))
    if error.validator == "type":
        return f"must be of type {schema.get('type')}"
    if error.validator == "maxLength":
        return f"must be at most {schema.get('maxLength')} characters"
    if error.validator == "maxItems":
        return f"must have at most {schema.get('maxItems')} items"
    if error.validator == "pattern":
        return "has the wrong format"
    if error.validator == "oneOf":
        return "must be a string or an object with the expected fields"
    if error.validator == "minProperties":
        return "must contain at least one field"
    return f"fails the {error.validator} rule"
