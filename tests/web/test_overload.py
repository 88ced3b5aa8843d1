"""A worker far behind sheds new drafts: 503 `overloaded` with Retry-After, at once, doing
nothing else; it takes them again once it has caught up (backend/services/overload.py)."""
from __future__ import annotations

import sys
import threading
import time

import pytest
from sqlalchemy import func, select

from backend.config import ConfigError, Settings
from backend.services.overload import SMOOTHING, LagMonitor
from backend.storage.models import AuditEvent, Draft
from tests.admin.test_metrics_endpoint import scrape, value
from tests.web.drafting_support import draft_body


def _overload(monitor: LagMonitor) -> None:
    """Feed lag well past the threshold until the monitor sheds every new draft."""
    for _ in range(200):
        monitor.record(monitor.shed_all_at_s * 3)
        if monitor.shed_share == 1.0:
            return
    raise AssertionError("the monitor never shed every draft")


def _catch_up(monitor: LagMonitor) -> None:
    for _ in range(200):
        monitor.record(0.0)
        if not monitor.shedding:
            return
    raise AssertionError("the monitor never stopped shedding")


def _count(rt, column) -> int:
    with rt.db.session(all_tenants=True, read_only=True) as session:
        return session.scalar(select(func.count()).select_from(column))


# --- the decision ------------------------------------------------------------------------------

def test_lasting_lag_sheds_and_a_single_long_pause_does_not():
    monitor = LagMonitor(0.05)
    monitor.record(0.2)  # one 200 ms stall (a collector pass, one slow statement)
    assert monitor.lag_s == pytest.approx(0.2 * SMOOTHING)
    assert not monitor.shedding
    for _ in range(30):
        monitor.record(0.08)
    assert monitor.shed_share == 1.0 and monitor.lag_s >= 0.05


def test_the_share_shed_rises_from_half_the_threshold_to_all_at_it():
    monitor = LagMonitor(0.05)
    shares = {}
    for lag_ms in (10, 25, 30, 37.5, 45, 50, 80):
        monitor.lag_s = lag_ms / 1000  # the smoothed lag, then a tick that leaves it there
        monitor.record(monitor.lag_s)
        shares[lag_ms] = monitor.shed_share
    assert shares[10] == shares[25] == 0
    assert shares[30] == pytest.approx(0.2) and shares[37.5] == pytest.approx(0.5)
    assert shares[45] == pytest.approx(0.8) and shares[50] == shares[80] == 1.0
    # At a share of 0.5, draws under it are shed and the rest admitted.
    monitor.lag_s = 0.0375
    monitor.record(0.0375)
    assert monitor.sheds(0.49) and not monitor.sheds(0.51)
    _catch_up(monitor)
    assert monitor.lag_s <= 0.025


def test_a_threshold_of_zero_never_sheds():
    monitor = LagMonitor(0.0)
    for _ in range(60):
        monitor.record(5.0)
    assert not monitor.enabled and not monitor.shedding and not monitor.sheds(0.0)
    assert monitor.lag_s > 4  # still measured, for /metrics


def test_the_monitor_measures_a_thread_that_keeps_the_interpreter():
    """A real tick thread against a thread that holds the GIL for 200 ms at a time: the lag it
    measures is that hold, it sheds, and it stops shedding when the hog stops."""
    published: list[float] = []
    monitor = LagMonitor(0.04, tick_s=0.01, report=published.append, report_every_s=0.05)
    switch = sys.getswitchinterval()
    stop = threading.Event()

    def hog():
        while not stop.is_set():
            sum(range(1000))

    sys.setswitchinterval(0.2)
    monitor.start()
    hogging = threading.Thread(target=hog)
    try:
        hogging.start()
        deadline = time.monotonic() + 10
        while not monitor.shedding and time.monotonic() < deadline:
            time.sleep(0.05)
        assert monitor.shedding, f"lag measured {monitor.lag_s * 1000:.0f} ms"
    finally:
        stop.set()
        hogging.join()
        sys.setswitchinterval(switch)
    deadline = time.monotonic() + 10
    while monitor.shedding and time.monotonic() < deadline:
        time.sleep(0.02)
    monitor.stop()
    assert not monitor.shedding and monitor.lag_s <= 0.02
    assert published and max(published) >= 0.02


# --- the API and the Gmail add-on ---------------------------------------------------------------

def test_a_shed_draft_is_a_503_with_retry_after_and_leaves_nothing(make_app):
    app = make_app(shed_lag_ms=50.0, shed_retry_after_s=7)
    rt = app.extensions["replywise"]
    client = app.test_client()
    assert client.post("/api/v1/drafts", json=draft_body()).status_code == 200
    drafts, events = _count(rt, Draft), _count(rt, AuditEvent)
    _overload(rt.lag_monitor)

    response = client.post("/api/v1/drafts", json=draft_body(tone="formal"),
                           headers={"Accept": "text/event-stream"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    error = response.get_json()["error"]
    assert error["code"] == "overloaded" and error["retry_after"] == 7
    assert "try again" in error["message"]
    assert (_count(rt, Draft), _count(rt, AuditEvent)) == (drafts, events)
    assert value(scrape(client), "replywise_drafts_shed_total") == 1

    _catch_up(rt.lag_monitor)
    assert client.post("/api/v1/drafts", json=draft_body(tone="formal")).status_code == 200
    assert _count(rt, Draft) == drafts + 1


def test_shedding_comes_before_authentication(make_app):
    """A shed request costs no token verification: overloaded is answered even to a caller
    who would have been refused."""
    app = make_app(shed_lag_ms=50.0)
    _overload(app.extensions["replywise"].lag_monitor)
    response = app.test_client().post("/api/v1/drafts", json=draft_body(),
                                      headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "overloaded"


def test_other_routes_are_served_while_drafts_are_shed(make_app):
    app = make_app(shed_lag_ms=50.0)
    _overload(app.extensions["replywise"].lag_monitor)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200


# --- configuration and the worker ---------------------------------------------------------------

@pytest.mark.parametrize("variable, raw", [("REPLYWISE_SHED_LAG_MS", "fast"),
                                           ("REPLYWISE_SHED_LAG_MS", "-1"),
                                           ("REPLYWISE_SHED_RETRY_AFTER_S", "0"),
                                           ("REPLYWISE_SHED_RETRY_AFTER_S", "soon")])
def test_bad_shedding_settings_are_named(variable, raw):
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: raw})


def test_shedding_settings_are_read():
    settings = Settings.from_env({"REPLYWISE_SHED_LAG_MS": "0",
                                  "REPLYWISE_SHED_RETRY_AFTER_S": "12"})
    assert (settings.shed_lag_ms, settings.shed_retry_after_s) == (0.0, 12)
    assert Settings.from_env({}).shed_lag_ms == 50.0
