"""Signing in to /admin with Microsoft (msal authorisation-code flow) and Google."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses
from sqlalchemy import insert

from backend.storage.models import TenantDomain
from tests.admin import analytics_support as data
from tests.web.governance_support import audit_rows

AUTHORITY = "https://login.microsoftonline.com"
TID, CLIENT = "11111111-2222-3333-4444-555555555555", "api-client-id"
BASE = "https://replywise.test"
HTML = {"Accept": "text/html"}


@pytest.fixture
def entra_client(make_app):
    app = make_app(entra_client_id=CLIENT, entra_client_secret="client-secret",
                   entra_allowed_tenants=(TID,), secret_key="k" * 40,
                   public_base_url=BASE)
    return app.test_client()


@pytest.fixture
def microsoft():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{AUTHORITY}/{TID}/v2.0/.well-known/openid-configuration", json={
            "authorization_endpoint": f"{AUTHORITY}/{TID}/oauth2/v2.0/authorize",
            "token_endpoint": f"{AUTHORITY}/{TID}/oauth2/v2.0/token",
            "issuer": f"{AUTHORITY}/{TID}/v2.0"})
        yield mock


def _id_token(nonce: str, **claims) -> str:
    now = int(time.time())
    body = {"iss": f"{AUTHORITY}/{TID}/v2.0", "aud": CLIENT, "tid": TID, "oid": "oid-ana",
            "sub": "pairwise-sub",
            "name": "Ana Analyst", "preferred_username": "ana@contoso.example",
            "roles": ["analyst"], "iat": now, "nbf": now, "exp": now + 3600, "nonce": nonce,
            **claims}
    return jwt.encode(body, "not-checked-by-msal-" * 3, algorithm="HS256")


def _sign_in_with_microsoft(client, microsoft, **claims):
    start = client.get("/admin/signin/microsoft", base_url=BASE)
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["response_mode"] == ["form_post"] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{BASE}/admin/auth/callback"]
    microsoft.post(f"{AUTHORITY}/{TID}/oauth2/v2.0/token", json={
        "token_type": "Bearer", "access_token": "at", "expires_in": 3600, "scope": "openid",
        "id_token": _id_token(query["nonce"][0], **claims)})
    return client.post("/admin/auth/callback", base_url=BASE,
                       data={"code": "auth-code", "state": query["state"][0]})


def test_without_a_session_the_page_sends_you_to_sign_in(entra_client):
    response = entra_client.get("/admin", headers=HTML, base_url=BASE)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/signin")
    page = entra_client.get("/admin/signin", base_url=BASE).get_data(as_text=True)
    assert "Sign in with Microsoft" in page and "Sign in with Google" not in page
    assert entra_client.get("/admin/export/daily.csv", base_url=BASE).status_code == 401


def test_microsoft_code_flow_signs_an_analyst_in(entra_client, microsoft, rt):
    done = _sign_in_with_microsoft(entra_client, microsoft)
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin")
    token_call = [c for c in microsoft.calls if c.request.url.endswith("/token")][0]
    body = parse_qs(token_call.request.body)
    assert body["code"] == ["auth-code"] and body["grant_type"] == ["authorization_code"]
    assert "code_verifier" in body
    page = entra_client.get("/admin", headers=HTML, base_url=BASE)
    assert page.status_code == 200
    assert "Ana Analyst" in page.get_data(as_text=True)
    (login,) = audit_rows(rt, TID, "auth.login")
    assert login.details == {"idp": "entra", "surface": "admin"}


def test_a_signed_in_drafter_is_refused_with_403(entra_client, microsoft):
    _sign_in_with_microsoft(entra_client, microsoft, roles=[], oid="oid-drafter")
    page = entra_client.get("/admin", headers=HTML, base_url=BASE)
    assert page.status_code == 403


def test_a_tenant_that_is_not_enrolled_is_refused(entra_client, microsoft):
    done = _sign_in_with_microsoft(entra_client, microsoft, tid="99999999-0000-0000-0000-0000")
    assert done.status_code == 401
    assert entra_client.get("/admin", headers=HTML, base_url=BASE).status_code == 302


def test_a_callback_without_this_browsers_flow_is_refused(entra_client, microsoft):
    entra_client.get("/admin/signin/microsoft", base_url=BASE)
    forged = entra_client.post("/admin/auth/callback", base_url=BASE,
                               data={"code": "c", "state": "someone-elses-state"})
    assert forged.status_code == 401
    entra_client.delete_cookie("replywise_signin", path="/admin/auth", domain="replywise.test")
    no_cookie = entra_client.post("/admin/auth/callback", base_url=BASE,
                                  data={"code": "c", "state": "x"})
    assert no_cookie.status_code == 401


def test_sign_out_ends_the_session(entra_client, microsoft):
    _sign_in_with_microsoft(entra_client, microsoft)
    page = entra_client.get("/admin", headers=HTML, base_url=BASE).get_data(as_text=True)
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    entra_client.post("/admin/signout", data={"csrf": csrf}, base_url=BASE)
    assert entra_client.get("/admin", headers=HTML, base_url=BASE).status_code == 302


def test_sign_in_without_a_secret_key_explains_what_is_missing(make_app):
    client = make_app(entra_client_id=CLIENT, entra_client_secret="s",
                      entra_allowed_tenants=(TID,)).test_client()
    response = client.get("/admin/signin/microsoft", headers=HTML, base_url=BASE)
    assert response.status_code == 503
    assert "REPLYWISE_SECRET_KEY" in response.get_data(as_text=True)


def test_google_code_flow_signs_in_a_workspace_user_of_an_enrolled_domain(make_app):
    app = make_app(google_addon_service_account="svc@gcp-sa-gsuiteaddons.iam.gserviceaccount.com",
                   google_oauth_client_id="g-client", google_oauth_client_secret="g-secret",
                   secret_key="k" * 40, public_base_url=BASE)
    rt = app.extensions["replywise"]
    data.seed(rt)
    with rt.db.session(all_tenants=True) as session:
        session.connection().execute(insert(TenantDomain.__table__).values(
            domain="acme.example", tenant_id=data.TENANT, created_at=data.at(data.D1, 0)))
    client = app.test_client()
    start = client.get("/admin/signin/google", base_url=BASE)
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    now = int(time.time())
    with responses.RequestsMock() as google:
        google.post("https://oauth2.googleapis.com/token", json={"id_token": jwt.encode({
            "iss": "https://accounts.google.com", "aud": "g-client", "sub": "g-123",
            "hd": "acme.example", "email": "gil@acme.example", "name": "Gil", "iat": now,
            "exp": now + 3600, "nonce": query["nonce"][0]}, "x" * 40, algorithm="HS256")})
        done = client.get("/admin/auth/callback", base_url=BASE,
                          query_string={"code": "g-code", "state": query["state"][0]})
        assert done.status_code == 303
        sent = parse_qs(google.calls[0].request.body)
        assert sent["client_secret"] == ["g-secret"] and "code_verifier" in sent
    # A new Google user holds the drafter role only: signed in, yet not allowed to see analytics.
    assert client.get("/admin", headers=HTML, base_url=BASE).status_code == 403
