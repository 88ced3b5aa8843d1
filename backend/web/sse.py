"""Server-sent events for streamed drafts: `delta`, `reset`, then one `done` or `error`."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, g, stream_with_context

from backend.errors import AppError, envelope

log = logging.getLogger(__name__)


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(events: Iterator[tuple[str, Any]], on_error: Callable[[], None] | None = None
                 ) -> Response:
    """Stream (name, data) pairs; an exception becomes one final `error` event, never a 500."""
    request_id = g.get("request_id")

    def generate() -> Iterator[str]:
        try:
            for name, data in events:
                yield _event(name, data)
        except AppError as exc:
            yield _event("error", envelope(exc.code, exc.message, **exc.extra))
        except Exception:
            log.exception("stream failed")
            yield _event("error", envelope("internal_error",
                                           "Something went wrong on our side; it has been "
                                           "logged."))

    response = Response(stream_with_context(generate()), mimetype="text/event-stream")
    # Proxies must pass each event through at once, or the first words arrive late.
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    response.headers["X-Request-Id"] = request_id or ""
    return response
