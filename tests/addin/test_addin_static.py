"""The /addin blueprint: what it serves, how, and what it refuses."""
from __future__ import annotations

import pytest


@pytest.fixture
def client(build_app):
    return build_app().test_client()


def test_taskpane_is_served_as_html_with_a_strict_csp_and_no_cache(client):
    response = client.get("/addin/taskpane.html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-cache"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://appsforoffice.microsoft.com;" in csp
    assert "connect-src 'self';" in csp
    assert "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert b"https://appsforoffice.microsoft.com/lib/1/hosted/office.js" in response.data


@pytest.mark.parametrize("page", ["taskpane.html", "commands.html", "privacy.html",
                                  "terms.html"])
def test_every_page_the_manifests_name_is_served(client, page):
    response = client.get(f"/addin/{page}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "Content-Security-Policy" in response.headers


def test_es_modules_are_served_as_javascript_with_a_short_cache(client):
    response = client.get("/addin/js/main.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/addin/taskpane.css").mimetype == "text/css"


def test_vendored_msal_is_served_from_this_origin(client):
    response = client.get("/addin/vendor/msal-browser-4.30.0.min.js")
    assert response.status_code == 200
    assert b"createNestablePublicClientApplication" in response.data


@pytest.mark.parametrize("path", [
    "/addin/nope.js", "/addin/js/", "/addin/js", "/addin/../backend/app.py",
    "/addin/%2e%2e/backend/app.py", "/addin/js/..%2f..%2fpyproject.toml",
    "/addin/vendor/msal-browser-LICENSE", "/addin/.hidden.js", "/addin/js/.main.js.swp",
])
def test_unknown_files_directories_and_traversal_get_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_folder_leads_to_the_taskpane_without_a_listing(client):
    response = client.get("/addin/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/addin/taskpane.html")


def test_config_says_local_mode_by_default(client):
    response = client.get("/addin/config.json")
    assert response.get_json() == {"local_mode": True, "client_id": "", "api_scope": "",
                                   "api_base": "/api/v1",
                                   "msal_url": "/addin/vendor/msal-browser-4.30.0.min.js"}
    assert response.headers["Cache-Control"] == "no-cache"


def test_config_urls_follow_a_path_prefix(client):
    config = client.get("/addin/config.json", base_url="http://localhost/replywise/")
    assert config.get_json()["api_base"] == "/replywise/api/v1"
    assert config.get_json()["msal_url"] == \
        "/replywise/addin/vendor/msal-browser-4.30.0.min.js"


def test_config_names_the_spa_client_and_the_api_scope(build_app):
    app = build_app(entra_client_id="api-app-id", entra_spa_client_id="spa-app-id",
                    entra_allowed_tenants=("tid-1",))
    config = app.test_client().get("/addin/config.json").get_json()
    assert config["local_mode"] is False
    assert config["client_id"] == "spa-app-id"
    assert config["api_scope"] == "api://api-app-id/access_as_user"
