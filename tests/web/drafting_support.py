"""Helpers for API tests: sample requests, SSE parsing, provider configs for the fake server."""
from __future__ import annotations

import json
from typing import Any

from backend.providers.llm.base import ProviderConfig

SAMPLE_MESSAGE: dict[str, Any] = {
    "subject": "Invoice 4411 for March",
    "from": "Jane Doe <jane.doe@acme-example.com>",
    "to": ["Sam Lee <sam@corp-example.com>"],
    "body_text": ("Hi Sam,\n\nCould you send the invoice for March again? The PDF was empty.\n"
                  "Please also confirm the delivery date.\n\nThanks,\nJane Doe\n"),
}


def draft_body(**options: Any) -> dict[str, Any]:
    """A valid draft request for the sample message."""
    body: dict[str, Any] = {"message": dict(SAMPLE_MESSAGE)}
    if options:
        body["options"] = options
    return body


def fake_provider(server, name: str = "fake", model: str = "gpt-4o-mini",
                  timeout_s: float = 5.0, **extra: Any) -> ProviderConfig:
    """A compatible provider pointed at the fake server."""
    return ProviderConfig(name=name, kind="compatible", model=model, base_url=server.base_url,
                          timeout_s=timeout_s, **extra)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event, data) pairs of an event stream."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
        events.append((name, json.loads(data)))
    return events
