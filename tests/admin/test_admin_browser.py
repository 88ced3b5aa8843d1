"""The analytics page in headless Chromium against the real backend on loopback.

Chromium is Debian's (/usr/bin/chromium); without it this test fails, it does not skip.
The full-page screenshot is kept in test-artifacts/ for a person to look at.
"""
from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from backend.app import create_app
from backend.config import Settings
from backend.services import demo
from backend.storage import migrate

ARTIFACTS = Path(__file__).parent.parent.parent / "test-artifacts"


class _Quiet(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, code="-", size="-") -> None:
        pass


@pytest.fixture
def live_url(tmp_path) -> Iterator[str]:
    """The backend with 60 days of demo usage, served by werkzeug on 127.0.0.1."""
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    migrate.upgrade(url)
    app = create_app(Settings(data_dir=tmp_path, database_url=url, log_level="WARNING",
                              pseudonym_key=b"test-pseudonym-key-0123456789"))
    demo.seed(app.extensions["replywise"], tenant="local", days=60, users=60)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    app.extensions["replywise"].close()


def _kpi(page, label: str) -> str:
    return page.locator(f'[data-kpi="{label}"] .kpi-value').inner_text()


def test_analytics_page_draws_charts_filters_and_downloads_csv(live_url, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900},
                                  accept_downloads=True)
    try:
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{live_url}/admin")
        assert page.locator("h1").inner_text() == "Usage analytics"

        # Charts are drawn with data: visible SVGs, and bars with real size.
        sizes = page.evaluate("""() => [...document.querySelectorAll('svg.chart')].map(
            s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; })""")
        assert len(sizes) >= 7 and all(w > 100 and h > 30 for w, h in sizes), sizes
        bars = page.evaluate("""() => [...document.querySelectorAll(
            '#usage svg.chart rect.bar')].map(r => r.getBBox().height)""")
        assert len(bars) > 40 and sum(1 for h in bars if h > 1) > 40
        assert page.locator("#latency svg polyline").count() >= 2

        all_drafts = _kpi(page, "Drafts")
        page.screenshot(path=str(ARTIFACTS / "admin-analytics.png"), full_page=True)

        # Changing a filter reloads with the narrower numbers.
        with page.expect_navigation():
            page.select_option("#surface", "gmail")
        assert "surface=gmail" in page.url
        gmail_drafts = _kpi(page, "Drafts")
        assert int(gmail_drafts.replace(",", "")) < int(all_drafts.replace(",", ""))
        shown_total = sum(int(c.inner_text().replace(",", "")) for c in page.locator(
            '[data-table="daily"] td[data-key="total"]').all())
        assert shown_total == int(gmail_drafts.replace(",", ""))

        # The table's CSV, downloaded with the same filter.
        with page.expect_download() as download:
            page.locator("#usage a.csv").click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
        assert rows[0] == ["Day", "Outlook", "Gmail", "API / CLI", "Total"]
        assert sum(int(r[4]) for r in rows[1:]) == shown_total
        assert all(r[1] == "0" and r[3] == "0" for r in rows[1:])
        page.screenshot(path=str(ARTIFACTS / "admin-analytics-gmail.png"))

        # The latency panel follows the team filter like every other panel. The demo's Legal
        # team asks for the longest replies, so its drafts are the slowest.
        page.goto(f"{live_url}/admin")
        everyone = _latency(page)
        with page.expect_navigation():
            page.select_option("#team", "Legal")
        assert "team=Legal" in page.url
        legal = _latency(page)
        assert legal["kpi"] != everyone["kpi"] and legal["hint"] != everyone["hint"]
        assert legal["p50"] != everyone["p50"]
        assert _ms(legal["kpi"].split(" / ")[0]) > _ms(everyone["kpi"].split(" / ")[0])
        page.locator("#latency").screenshot(path=str(ARTIFACTS / "admin-analytics-team.png"))
        assert problems == []
    finally:
        context.close()


def _latency(page) -> dict:
    """The latency KPI, its first-token hint and the per-day p50 column as shown."""
    return {"kpi": _kpi(page, "Latency p50 / p95"),
            "hint": page.locator('[data-kpi="Latency p50 / p95"] .kpi-hint').inner_text(),
            "p50": [c.inner_text() for c in page.locator(
                '[data-table="latency"] td[data-key="p50"]').all()]}


def _ms(shown: str) -> float:
    """'2.35 s' or '980 ms' as milliseconds."""
    number, unit = shown.split()
    return float(number) * (1000 if unit == "s" else 1)
