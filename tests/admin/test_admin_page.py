"""/admin: who may see it, what it shows, what it never shows, and its CSV exports."""
from __future__ import annotations

import csv
import io
import re

import pytest

from backend.services import analytics
from tests.admin import analytics_support as data
from tests.web.governance_support import audit_rows, set_roles

TABLES = ("daily", "latency", "surfaces", "providers", "teams", "reliability", "refusals", "pii",
          "drift")
HTML = {**data.VIEWER, "Accept": "text/html"}


def _csv(client, name: str, **params) -> list[list[str]]:
    response = client.get(f"/admin/export/{name}.csv", headers=data.VIEWER,
                          query_string={**data.RANGE, **params})
    assert response.status_code == 200, response.data[:300]
    assert response.headers["Content-Type"].startswith("text/csv")
    assert f"replywise-{name}-" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_analyst_sees_the_overview_with_charts_and_numbers(client, rt):
    data.seed(rt)
    response = client.get("/admin", headers=HTML, query_string=data.RANGE)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.count("<svg class=\"chart") >= 6
    assert re.search(r'data-kpi="Drafts">\s*<p class="kpi-label">Drafts</p>\s*'
                     r'<p class="kpi-value">7</p>', page)
    assert "42.9%" in page  # insert rate 3 / 7
    assert "Content-Security-Policy" in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_a_drafter_gets_a_403_page_and_the_refusal_is_audited(client, rt):
    data.seed(rt)
    set_roles(client, data.TENANT, "admin-1", "drafter-1", {"drafter"})
    headers = {"X-Replywise-Tenant": data.TENANT, "X-Replywise-User": "drafter-1"}
    page = client.get("/admin", headers={**headers, "Accept": "text/html"})
    assert page.status_code == 403
    assert "analyst role" in page.get_data(as_text=True)
    assert "Drafts per day" not in page.get_data(as_text=True)
    export = client.get("/admin/export/daily.csv", headers=headers, query_string=data.RANGE)
    assert export.status_code == 403
    assert export.get_json()["error"]["action"] == "analytics.read"
    denied = audit_rows(rt, data.TENANT, "access.denied")
    assert [e.details["path"] for e in denied] == ["/admin", "/admin/export/daily.csv"]


def test_tenant_admin_without_analyst_may_read_analytics(client, rt):
    data.seed(rt)
    set_roles(client, data.TENANT, "admin-1", "boss", {"tenant_admin"})
    response = client.get("/admin", headers={"X-Replywise-Tenant": data.TENANT,
                                             "X-Replywise-User": "boss", "Accept": "text/html"})
    assert response.status_code == 200


def test_local_mode_admits_loopback_only(client, rt):
    response = client.get("/admin", headers=HTML, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 401
    assert "this machine only" in response.get_data(as_text=True)


@pytest.mark.parametrize("name", TABLES)
def test_every_table_exports_as_csv_exactly_as_the_service_built_it(client, rt, name):
    data.seed(rt)
    rows = _csv(client, name)
    overview = analytics.overview(rt, _principal(client), analytics.Filters.parse(
        data.RANGE, data.D2))
    table = overview.tables[name]
    assert rows[0] == [c.label for c in table.columns]
    expected = [[_plain(r.get(c.key)) for c in table.columns] for r in table.rows]
    assert rows[1:] == expected


def test_csv_export_uses_the_same_filters_as_the_page(client, rt):
    data.seed(rt)
    assert [r[0] for r in _csv(client, "teams", team="Sales")[1:]] == ["Sales"]
    assert _csv(client, "daily", surface="gmail")[1:] == [
        ["2025-03-04", "0", "1", "0", "1"], ["2025-03-03", "0", "1", "0", "1"]]


def test_latency_kpi_and_export_follow_the_team_filter(client, rt):
    data.seed(rt)
    page = client.get("/admin", headers=HTML, query_string={**data.RANGE, "team": "Sales"})
    text = page.get_data(as_text=True)
    assert re.search(r'data-kpi="Latency p50 / p95">.*?<p class="kpi-value">2.10 s / 5.40 s</p>'
                     r'\s*<p class="kpi-hint">first token p50 420 ms</p>', text, re.S)
    assert "team filter does not apply" not in text
    assert _csv(client, "latency", team="Sales")[1:] == [
        ["2025-03-04", "5250", "5475", "1050", "1095"], ["2025-03-03", "2050", "3085", "410", "617"]]
    assert _csv(client, "latency", team="Support")[1:] == [
        ["2025-03-04", "50", "59", "50", "59"], ["2025-03-03", "", "", "", ""]]


def test_unknown_table_is_404_and_bad_filters_are_400(client, rt):
    assert client.get("/admin/export/drafts.csv", headers=data.VIEWER).status_code == 404
    bad = client.get("/admin/export/daily.csv", headers=data.VIEWER,
                     query_string={"from": "yesterday"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "from"
    wrong_surface = client.get("/admin", headers=HTML, query_string={"surface": "fax"})
    assert wrong_surface.status_code == 400


def test_no_message_text_ever_appears_in_the_page_or_any_export(client, rt):
    data.seed(rt)
    pages = [client.get("/admin", headers=HTML, query_string={**data.RANGE, **extra})
             for extra in ({}, {"surface": "gmail"}, {"team": "Sales"})]
    exports = [client.get(f"/admin/export/{name}.csv", headers=data.VIEWER,
                          query_string=data.RANGE) for name in TABLES]
    for response in pages + exports:
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        for secret in data.SECRET_TEXTS:
            for fragment in (secret, secret[:20], secret[-15:]):
                assert fragment not in body, (response.request.path, fragment)
        assert "Person u1" not in body and "u1@acme.example" not in body


def test_flagged_drift_shows_on_the_page(client, rt):
    data.seed(rt)
    # A baseline of good weeks and a bad recent week, written as drafts of the past.
    from tests.admin.test_metrics_endpoint import seed_drift_history
    seed_drift_history(rt)
    page = client.get("/admin", headers=HTML, query_string={"to": "2025-03-04"})
    text = page.get_data(as_text=True)
    assert "Quality drift:" in text and "Insert rate" in text
    assert re.search(r'data-metric="insert_rate">.*?Drifted', text, re.S)


def _principal(client):
    from backend.governance.identity import Principal
    return Principal(idp="local", tenant_id=data.TENANT, subject="analyst-1",
                     roles=frozenset({"analyst"}))


def _plain(value) -> str:
    from backend.web.admin_view import csv_value
    return csv_value(value, "text" if isinstance(value, str) else "int")
