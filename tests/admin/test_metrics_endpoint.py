"""/metrics: Prometheus text that parses, with the right values, and only for those allowed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from backend.services import analytics, metrics
from backend.storage.models import Draft, Feedback
from tests.admin import analytics_support as data

ROOT = Path(__file__).parent.parent.parent


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.data[:300]
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def seed_drift_history(rt, end: date = data.D2) -> None:
    """28 baseline days inserting 6 drafts in 10, then a recent week inserting 3 in 10."""
    rows, feedback = [], []
    for back in range(35):
        day = end - timedelta(days=back)
        for i in range(10):
            did = f"h{back}-{i}"
            rows.append(dict(
                id=did, tenant_id=data.TENANT, user_id="user-u1", surface="outlook",
                status="completed", provider="azure-eu", model="gpt-4o-mini", tone="neutral",
                length="medium", language="en", prompt_tokens=10, completion_tokens=10,
                cost_usd=Decimal("0"), latency_ms=1500, ttft_ms=300, attempts=1, failovers=0,
                offline_fallback=False, text_length=400, pii_counts={},
                created_at=data.at(day, 8)))
            if i < (3 if back < 7 else 6):
                feedback.append(dict(id=f"hf{back}-{i}", tenant_id=data.TENANT, draft_id=did,
                                     user_id="user-u1", action="inserted",
                                     created_at=data.at(day, 9)))
    with rt.db.session(data.TENANT) as session:
        session.connection().execute(insert(Draft.__table__), rows)
        session.connection().execute(insert(Feedback.__table__), feedback)


def test_metrics_parse_and_count_drafts_tokens_cost_and_refusals(client, rt):
    # Counted from the database: what other tests left there (the PostgreSQL database is
    # shared) is taken away, so the seeded drafts must add exactly these amounts.
    before = scrape(client)
    data.seed(rt)
    after = scrape(client)
    samples = {key: count - before.get(key, 0) for key, count in after.items()}
    assert value(samples, "replywise_drafts_total", provider="azure-eu", status="completed") == 3
    assert value(samples, "replywise_drafts_total", provider="azure-eu", status="cancelled") == 1
    assert value(samples, "replywise_drafts_total", provider="azure-eu", status="failed") == 1
    assert value(samples, "replywise_drafts_total", provider="offline", status="offline") == 1
    assert value(samples, "replywise_tokens_total", provider="azure-eu", kind="prompt") == 900
    assert value(samples, "replywise_tokens_total", provider="azure-eu", kind="completion") == 350
    assert value(samples, "replywise_cost_usd_total", provider="azure-eu") == pytest.approx(0.072)
    assert value(samples, "replywise_draft_failovers_total", provider="openai") == 1
    assert value(samples, "replywise_draft_offline_fallbacks_total", provider="offline") == 1
    assert value(samples, "replywise_limit_refusals_total", limit="user_rpm", kind="rate") == 1
    assert value(samples, "replywise_limit_refusals_total", limit="team_monthly_tokens",
                 kind="budget") == 1
    assert value(after, "replywise_analytics_up") == 1


def test_requests_are_counted_and_timed_by_route_template_and_status(client):
    for _ in range(2):
        client.get("/healthz")
    client.get("/no/such/page")
    samples = scrape(client)
    assert value(samples, "replywise_http_requests_total", route="/healthz", method="GET",
                 status="200") == 2
    assert value(samples, "replywise_http_requests_total", route="unmatched", method="GET",
                 status="404") == 1
    assert value(samples, "replywise_http_request_duration_seconds_count", route="/healthz",
                 method="GET", status="200") == 2
    assert value(samples, "replywise_http_request_duration_seconds_bucket", route="/healthz",
                 method="GET", status="200", le="+Inf") == 2


def test_circuit_breakers_and_queue_depth_are_gauges(client, rt):
    for _ in range(rt.settings.breaker_failures):
        rt.breakers.record_failure("azure-eu")
    rt.breakers.record_success("openai")
    metrics.set_queue_depth(rt, "openai", 3)
    samples = scrape(client)
    assert value(samples, "replywise_provider_circuit_state", provider="azure-eu") == 2
    assert value(samples, "replywise_provider_circuit_state", provider="openai") == 0
    assert value(samples, "replywise_provider_circuit_trips", provider="azure-eu") == 1
    assert value(samples, "replywise_provider_queue_depth", provider="openai") == 3


def test_drift_beyond_its_threshold_is_a_gauge_per_tenant_and_metric(client, rt):
    data.seed(rt)
    seed_drift_history(rt, end=analytics.today())
    samples = scrape(client)
    assert value(samples, "replywise_drift_flagged", tenant=data.TENANT, metric="insert_rate") == 1
    assert value(samples, "replywise_drift_flagged", tenant=data.TENANT, metric="latency_p95") == 0
    assert value(samples, "replywise_drift_change", tenant=data.TENANT,
                 metric="insert_rate") == pytest.approx(-0.3, abs=0.01)


def test_a_configured_token_is_required_and_compared(make_app):
    client = make_app(metrics_token="scrape-secret").test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    scrape(client, headers={"Authorization": "Bearer scrape-secret"},
           environ_base={"REMOTE_ADDR": "10.0.0.9"})


def test_without_a_token_only_loopback_may_scrape(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 403


def test_worker_processes_share_request_counts_in_multiprocess_mode(tmp_path):
    # A fresh interpreter: multiprocess mode changes prometheus_client process-wide.
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from backend.config import Settings
        from backend.services import metrics
        config = metrics.gunicorn_setup(Settings(data_dir=Path({str(tmp_path)!r}),
                                                 database_url="sqlite:///{tmp_path}/m.db"))
        from backend.storage import migrate
        migrate.upgrade(config.resolved_database_url)
        from backend.app import create_app
        pids = []
        for _ in range(2):  # two "workers", as gunicorn forks them
            pid = os.fork()
            if pid == 0:
                client = create_app(config).test_client()
                client.get("/healthz"); client.get("/healthz")
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
            metrics.worker_exited(pid, config.metrics_multiproc_dir)
        print(create_app(config).test_client().get("/metrics").get_data(as_text=True))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
                                                     "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    samples = {}
    for family in text_string_to_metric_families(out.stdout[out.stdout.index("# HELP"):]):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert value(samples, "replywise_http_requests_total", route="/healthz", method="GET",
                 status="200") == 4


def test_drafts_waiting_for_a_shaped_provider_show_as_its_queue_depth(make_app, openai_server):
    import threading
    import time

    from tests.fakes.openai_server import Behaviour
    from tests.web.drafting_support import draft_body, fake_provider

    app = make_app(providers=(fake_provider(openai_server, max_concurrency=1,
                                            queue_timeout_s=5.0),))
    openai_server.set_default(Behaviour.ok(latency_s=1.5))
    client = app.test_client()
    threads = [threading.Thread(target=lambda tone=tone: app.test_client().post(
        "/api/v1/drafts", json=draft_body(tone=tone))) for tone in ("formal", "direct")]
    for thread in threads:
        thread.start()
    # One call holds the only slot for 1.5 s, the other waits in the queue. Poll rather than
    # sleep a fixed time: on a loaded machine the second call may take a while to get there.
    def depth() -> float | None:  # None until the provider's first call sets the gauge
        return scrape(client).get(("replywise_provider_queue_depth", (("provider", "fake"),)))

    deadline = time.monotonic() + 1.2
    while depth() != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert depth() == 1
    for thread in threads:
        thread.join()
    assert value(scrape(client), "replywise_provider_queue_depth", provider="fake") == 0


def test_instances_sharing_a_data_directory_get_their_own_metrics_directory(tmp_path):
    """Two `replywise serve` on one host and one data directory must not delete each other's
    metric files; a stopped instance's directory is pruned by the next start."""
    stale = tmp_path / "metrics" / "999999999"  # beyond any pid_max: no such process
    alive = tmp_path / "metrics" / str(os.getppid())
    for directory in (stale, alive):
        directory.mkdir(parents=True)
        (directory / "counter_1.db").write_bytes(b"x")
    mine = Path(metrics.instance_metrics_dir(tmp_path))
    assert mine.name == str(os.getpid()) and mine.parent == (tmp_path / "metrics").resolve()
    assert not stale.exists()
    assert (alive / "counter_1.db").exists()
    metrics.prepare_multiprocess_dir(str(mine))
    metrics.prepare_multiprocess_dir(str(mine))  # again: an existing directory is emptied, not an error
    assert mine.is_dir() and (alive / "counter_1.db").exists()
