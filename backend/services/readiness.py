"""Is this instance ready for traffic: database reachable and schema at the code's revision."""
from __future__ import annotations

import logging
from typing import Any

from backend.services.runtime import Runtime
from backend.storage.migrate import current_revision, head_revision

log = logging.getLogger(__name__)


def readiness(rt: Runtime) -> tuple[bool, dict[str, Any]]:
    """(ready, report). Driver errors are logged by type only and reported as unreachable."""
    try:
        current = current_revision(rt.db.engine)
    except Exception as exc:  # any driver error means "not ready"
        log.warning("readiness: database unreachable", extra={"error_type": type(exc).__name__})
        return False, {"status": "unavailable", "database": "unreachable"}
    head = head_revision()
    if current != head:
        return False, {"status": "unavailable", "database": "reachable",
                       "migrations": {"current": current, "expected": head,
                                      "hint": "run `replywise db upgrade`"}}
    report = {"status": "ok", "database": "reachable", "migrations": {"current": current}}
    redis = rt.caches.get("redis")
    if redis is not None:  # limits, shaping and the cache are shared through it (issue 7)
        try:
            redis.ping()  # type: ignore[attr-defined]
        except Exception as exc:  # any client error means "not ready"
            log.warning("readiness: redis unreachable", extra={"error_type": type(exc).__name__})
            return False, {**report, "status": "unavailable", "redis": "unreachable"}
        report["redis"] = "reachable"
    return True, report
