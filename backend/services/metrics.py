"""Operational metrics in the Prometheus text format.

Two sources, chosen per metric by where the truth lives:

- Per-process events (HTTP requests and their latency, circuit breakers, provider queue depth)
  are prometheus_client metrics. Under gunicorn each worker is its own process, so with
  REPLYWISE_METRICS_MULTIPROC_DIR set (`replywise serve` sets one) they are written to shared
  files in prometheus_client's multiprocess mode and every scrape sees all workers together.
- Business counters (drafts by provider and outcome, tokens, cost, cache hits, refusals) and
  drift are read from the database: its analytics rollup already holds them, they are exact
  across workers and instances and survive restarts, and the page and /metrics can never
  disagree. A scrape refreshes the rollup incrementally (throttled) and sums it.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest, multiprocess, values)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from backend.governance.limits import LIMITS
from backend.providers.llm.breaker import BreakerState
from backend.services import analytics, analytics_rollup
from backend.services.runtime import Runtime
from backend.storage.models import DailyUsage, LimitRefusal

if TYPE_CHECKING:  # pragma: no cover
    from backend.config import Settings

log = logging.getLogger(__name__)

# The classic text format every Prometheus version reads (our names are plain ASCII, so the
# body is the same; newer clients advertise version=1.0.0, which Prometheus 2 does not know).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
DRIFT_CACHE_S = 300.0

_build_lock = threading.Lock()
# `_created` series double the exposition and nobody alerts on them.
disable_created_metrics()


class Metrics:
    """The process's prometheus_client metrics (one set per app, so tests stay independent)."""

    def __init__(self, multiproc_dir: str = ""):
        self.multiproc_dir = multiproc_dir
        if multiproc_dir and getattr(values.ValueClass, "__name__", "") != "MmapedValue":
            # prometheus_client picks its value class when first imported; a worker that
            # imported it before the directory was known switches here, before any metric exists.
            values.ValueClass = values.MultiProcessValue()
        # In multiprocess mode the values live in files and a fresh registry reads them at
        # scrape time; otherwise this app's own registry holds them.
        self.registry = None if multiproc_dir else CollectorRegistry(auto_describe=True)
        labels = ("route", "method", "status")
        self.requests = Counter("replywise_http_requests", "HTTP requests by route and status.",
                                labels, registry=self.registry)
        self.duration = Histogram("replywise_http_request_duration_seconds",
                                  "HTTP request latency by route and status (streamed responses: "
                                  "until the stream closed).", labels, buckets=REQUEST_BUCKETS,
                                  registry=self.registry)
        self.breaker_state = Gauge("replywise_provider_circuit_state",
                                   "Circuit breaker per provider: 0 closed, 1 half-open, 2 open "
                                   "(worst across workers).", ("provider",),
                                   registry=self.registry, multiprocess_mode="livemax")
        self.breaker_trips = Gauge("replywise_provider_circuit_trips",
                                   "Times a provider's breaker opened since the workers started.",
                                   ("provider",), registry=self.registry,
                                   multiprocess_mode="livesum")
        self.queue_depth = Gauge("replywise_provider_queue_depth",
                                 "Calls waiting for a provider slot (upstream shaping).",
                                 ("provider",), registry=self.registry,
                                 multiprocess_mode="livesum")
        self.shed = Counter("replywise_drafts_shed",
                            "New drafts refused with 503 overloaded because their worker was "
                            "too far behind.", registry=self.registry)
        self.worker_lag = Gauge("replywise_worker_lag_seconds",
                                "How late a worker's threads get the interpreter back, smoothed "
                                "(worst across workers).", registry=self.registry,
                                multiprocess_mode="livemax")

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        labels = (route, method, str(status))
        self.requests.labels(*labels).inc()
        self.duration.labels(*labels).observe(seconds)

    def observe_breakers(self, rt: Runtime) -> None:
        for name, snap in rt.breakers.snapshot().items():
            self.breaker_state.labels(name).set(BREAKER_VALUES[snap.state])
            self.breaker_trips.labels(name).set(snap.trips)


def metrics_for(rt: Runtime) -> Metrics:
    """The runtime's metrics, created on first use."""
    found = rt.caches.get("metrics")
    if found is None:
        with _build_lock:
            found = rt.caches.get("metrics")
            if found is None:
                found = Metrics(rt.settings.metrics_multiproc_dir)
                rt.caches["metrics"] = found
    return found  # type: ignore[return-value]


def set_queue_depth(rt: Runtime, provider: str, depth: int) -> None:
    """For upstream shaping: how many calls wait for `provider` in this process right now."""
    metrics_for(rt).queue_depth.labels(provider).set(depth)


def count_shed(rt: Runtime) -> None:
    metrics_for(rt).shed.inc()


def set_worker_lag(rt: Runtime, seconds: float) -> None:
    metrics_for(rt).worker_lag.set(seconds)


def render(rt: Runtime) -> bytes:
    """The whole exposition: process metrics (all workers) plus database-backed ones."""
    m = metrics_for(rt)
    m.observe_breakers(rt)
    if m.multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=m.multiproc_dir)
    else:
        registry = CollectorRegistry()
        registry.register(_Forward(m.registry))
    registry.register(_Business(rt))
    return generate_latest(registry)


class _Forward:
    """Re-exposes the app registry inside the per-scrape registry."""

    def __init__(self, source: CollectorRegistry):
        self._source = source

    def collect(self):
        yield from self._source.collect()


class _Business:
    """Counters and gauges read from the database at scrape time."""

    def __init__(self, rt: Runtime):
        self._rt = rt

    def collect(self):
        up = GaugeMetricFamily("replywise_analytics_up",
                               "1 when the database-backed metrics below could be read.")
        try:
            families = list(self._families())
        except Exception:  # noqa: BLE001 - a database outage must not hide request metrics
            log.exception("database-backed metrics unavailable")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self):
        rt = self._rt
        analytics_rollup.refresh_all(rt)
        d = DailyUsage
        with rt.db.session(all_tenants=True) as session:
            rows = session.execute(select(
                d.provider, func.sum(d.completed), func.sum(d.offline), func.sum(d.cancelled),
                func.sum(d.failed), func.sum(d.failovers), func.sum(d.offline_fallbacks),
                func.sum(d.prompt_tokens), func.sum(d.completion_tokens), func.sum(d.cost_usd),
                func.sum(d.cached), func.sum(d.saved_usd)).group_by(d.provider)).all()
            refusals = session.execute(select(LimitRefusal.name, func.count())
                                       .group_by(LimitRefusal.name)).all()
        drafts = CounterMetricFamily("replywise_drafts", "Drafts by provider and outcome.",
                                     labels=("provider", "status"))
        failovers = CounterMetricFamily("replywise_draft_failovers",
                                        "Failovers to a later provider in the chain.",
                                        labels=("provider",))
        fallbacks = CounterMetricFamily("replywise_draft_offline_fallbacks",
                                        "Drafts answered by the offline drafter because every "
                                        "provider failed.", labels=("provider",))
        tokens = CounterMetricFamily("replywise_tokens", "LLM tokens by provider and kind.",
                                     labels=("provider", "kind"))
        cost = CounterMetricFamily("replywise_cost_usd", "Provider spend in US dollars.",
                                   labels=("provider",))
        hits = CounterMetricFamily("replywise_cache_hits", "Drafts answered from the cache.",
                                   labels=("provider",))
        saved = CounterMetricFamily("replywise_cache_saved_usd",
                                    "Spend avoided by cache hits, US dollars.",
                                    labels=("provider",))
        for (provider, completed, offline, cancelled, failed, fo, fb, prompt, completion,
             usd, cached, saved_usd) in rows:
            for status, n in (("completed", completed), ("offline", offline),
                              ("cancelled", cancelled), ("failed", failed)):
                drafts.add_metric([provider, status], int(n or 0))
            failovers.add_metric([provider], int(fo or 0))
            fallbacks.add_metric([provider], int(fb or 0))
            tokens.add_metric([provider, "prompt"], int(prompt or 0))
            tokens.add_metric([provider, "completion"], int(completion or 0))
            cost.add_metric([provider], float(usd or 0))
            hits.add_metric([provider], int(cached or 0))
            saved.add_metric([provider], float(saved_usd or 0))
        refused = CounterMetricFamily("replywise_limit_refusals",
                                      "Requests refused by a rate limit or budget.",
                                      labels=("limit", "kind"))
        for name, count in refusals:
            refused.add_metric([name, LIMITS.get(name, ("", "rate", ""))[1]], int(count))
        yield from (drafts, failovers, fallbacks, tokens, cost, hits, saved, refused)
        yield from _drift_families(rt)


def _drift_families(rt: Runtime):
    cached: Any = rt.caches.get("metrics_drift")
    if cached is None or time.monotonic() - cached[0] > DRIFT_CACHE_S:
        cached = (time.monotonic(), analytics.tenant_drift_gauges(rt))
        rt.caches["metrics_drift"] = cached
    flagged = GaugeMetricFamily("replywise_drift_flagged",
                                "1 when a quality metric drifted past its threshold (recent "
                                "window against baseline).", labels=("tenant", "metric"))
    change = GaugeMetricFamily("replywise_drift_change",
                               "Recent window against baseline: absolute points for rates, "
                               "relative for length and latency, distance for the mix.",
                               labels=("tenant", "metric"))
    for tenant, result in cached[1]:
        flagged.add_metric([tenant, result.metric], 1 if result.flagged else 0)
        if result.change is not None:
            change.add_metric([tenant, result.metric], result.change)
    yield flagged
    yield change


def prepare_multiprocess_dir(path: str) -> None:
    """Empty the shared metrics directory before gunicorn starts its workers: files left by
    an earlier run would otherwise be counted again."""
    directory = Path(path)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def instance_metrics_dir(data_dir: Path) -> str:
    """The default directory is one per running instance (named after the gunicorn master's
    pid): several instances may share a data directory on one host, and each must neither
    count nor delete the others' files. Directories of instances that are gone are pruned."""
    root = (data_dir / "metrics").resolve()
    if root.is_dir():
        for child in root.iterdir():
            if child.is_dir() and child.name.isdigit() and not _pid_alive(int(child.name)):
                shutil.rmtree(child, ignore_errors=True)
    return str(root / str(os.getpid()))


def gunicorn_setup(config: "Settings") -> "Settings":
    """Before gunicorn forks: choose and empty the shared directory, and tell prometheus_client
    (which reads its own environment variable) where it is."""
    from backend.config import export_library_environment
    directory = config.metrics_multiproc_dir or instance_metrics_dir(config.data_dir)
    prepare_multiprocess_dir(directory)
    config = config.with_overrides(metrics_multiproc_dir=directory)
    export_library_environment(config)
    return config


def worker_exited(pid: int, path: str) -> None:
    """gunicorn child_exit: drop a dead worker's live gauges (queue depth, breaker state)."""
    multiprocess.mark_process_dead(pid, path)
