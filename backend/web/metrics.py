"""/metrics for Prometheus, and the request hooks that count and time every request.

Protected: with REPLYWISE_METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>`;
without it, only loopback may scrape (a sidecar or node-local Prometheus).
"""
from __future__ import annotations

import hmac
import time

from flask import Blueprint, Flask, Response, g, request

from backend.errors import Forbidden, Unauthorized
from backend.governance.identity import is_loopback
from backend.services import metrics
from backend.services.runtime import runtime

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape():
    """The Prometheus text exposition."""
    rt = runtime()
    token = rt.settings.metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 token.encode()):
            raise Unauthorized("Send Authorization: Bearer <REPLYWISE_METRICS_TOKEN>.")
    elif not is_loopback(request.remote_addr):
        raise Forbidden("/metrics answers loopback only unless REPLYWISE_METRICS_TOKEN is set.")
    return Response(metrics.render(rt), mimetype=None, content_type=metrics.CONTENT_TYPE)


def init_app(app: Flask) -> None:
    """Serve /metrics and observe every request by route template, method and status."""
    app.register_blueprint(bp)

    @app.after_request
    def _observe(response: Response) -> Response:
        rt = runtime()
        recorder = metrics.metrics_for(rt)
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        started = g.get("started") or time.perf_counter()
        method, status = request.method, response.status_code

        def done() -> None:
            recorder.observe_request(route, method, status, time.perf_counter() - started)
            recorder.observe_breakers(rt)

        if response.is_streamed:
            response.call_on_close(done)  # a streamed draft ends when its stream closes
        else:
            done()
        return response
