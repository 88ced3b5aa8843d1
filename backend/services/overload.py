"""Shedding new drafts while this worker is overloaded (issue 7).

A draft a worker takes on when it is already behind makes every stream it holds later, and once
a machine stays short of CPU the queues feed themselves: one long load run that fell behind
never recovered, and the drafts that failed in it waited 10 to 60 seconds first
(docs/benchmarks.md, "Load (issue 7)", session 10). So a worker that is far behind answers new
drafts at once with 503 `overloaded` and Retry-After, before authentication or any database
work, and keeps serving the streams it already holds. The user's retry may reach a worker or an instance with room.

The signal is the worker's lag: how late a thread that asked to wake every 100 ms gets the
interpreter back. Every stream of the worker suffers the same at each chunk, whatever the
cause (threads queued for the GIL, the process queued for a core, a collector pass), and
measuring it costs ten wake-ups a second. A healthy worker's smoothed lag is a millisecond or
two; a saturated one's 100 ms and more. From half of REPLYWISE_SHED_LAG_MS (default 50 ms) a
rising share of new drafts is shed, all of them at the threshold: the worker settles where it
keeps up, where refusing all new drafts past one line emptied it and then let a burst in
(docs/benchmarks.md, "Load (issue 7)", session 11). Shed drafts are not audited: nothing was
done for the user, and a database write per refusal is load an overloaded worker cannot
afford. They are counted in /metrics (`replywise_drafts_shed`), with the lag
(`replywise_worker_lag_seconds`).
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from backend.errors import ServiceUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from backend.services.runtime import Runtime

log = logging.getLogger(__name__)

TICK_S = 0.1
# Weight of each tick in the smoothed lag: the last second or two counts, so a single pause
# (a collector pass, one slow statement) sheds nothing, and a lasting backlog soon does.
SMOOTHING = 0.1
# How often the smoothed lag is published to /metrics.
REPORT_EVERY_S = 1.0


class Overloaded(ServiceUnavailable):
    """This worker is too far behind to take a new draft; the client should retry shortly."""

    code = "overloaded"

    def __init__(self, retry_after: int):
        super().__init__("Replywise is very busy right now. Please try again in a few seconds.",
                         retry_after=retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.extra["retry_after"])}


class LagMonitor:
    """The smoothed lateness of this process's threads, and what share of new drafts it sheds.

    `record` holds the decision and is what tests drive; `start` runs the ticking thread (in a
    gunicorn worker after the fork: threads do not survive one).
    """

    def __init__(self, shed_all_at_s: float, *, tick_s: float = TICK_S,
                 report: Callable[[float], None] | None = None,
                 report_every_s: float = REPORT_EVERY_S):
        self.shed_all_at_s = shed_all_at_s
        self.tick_s = tick_s
        self.lag_s = 0.0
        self.shed_share = 0.0
        self.report = report
        self.report_every_s = report_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.shed_all_at_s > 0

    @property
    def shedding(self) -> bool:
        return self.shed_share > 0

    def record(self, late_s: float) -> None:
        """Fold one tick's lateness into the smoothed lag and set the share of new drafts to
        shed: none up to half the threshold, then rising in proportion, all at the threshold.
        Refusing a rising share, rather than all drafts past one line, lets the worker settle
        where it keeps up: all-or-nothing emptied it, then let a burst in."""
        self.lag_s += SMOOTHING * (max(late_s, 0.0) - self.lag_s)
        if not self.enabled:
            return
        half = self.shed_all_at_s / 2
        was_shedding = self.shedding
        self.shed_share = min(1.0, max(0.0, (self.lag_s - half) / half))
        if self.shedding != was_shedding:
            log.warning("worker overloaded: shedding new drafts" if self.shedding else
                        "worker caught up: taking every new draft again",
                        extra={"lag_ms": round(self.lag_s * 1000)})

    def sheds(self, draw: float) -> bool:
        """Whether a new draft is shed, for `draw` uniform in [0, 1)."""
        return draw < self.shed_share

    def start(self) -> None:
        """Start ticking (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="replywise-lag", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        reported = time.monotonic()
        while True:
            asked = time.monotonic()
            if self._stop.wait(self.tick_s):
                return
            now = time.monotonic()
            self.record(now - asked - self.tick_s)
            if self.report is not None and now - reported >= self.report_every_s:
                reported = now
                try:
                    self.report(self.lag_s)
                except Exception:  # noqa: BLE001 - publishing must never stop the measuring
                    log.exception("could not publish the worker lag")


def refuse_if_overloaded(rt: Runtime) -> None:
    """Raise Overloaded when this worker sheds new drafts. Call before any other work."""
    monitor = rt.lag_monitor
    if monitor.shed_share and monitor.sheds(random.random()):
        from backend.services import metrics  # here: metrics imports runtime, which imports us
        metrics.count_shed(rt)
        raise Overloaded(rt.settings.shed_retry_after_s)
