"""Entra access tokens: every way a token can be wrong is a 401 with its own code, a valid one
signs the user in (keyed by tid + oid), and Microsoft is asked for keys as rarely as possible."""
from __future__ import annotations

import time

import pytest
import responses
from sqlalchemy import func, select

from backend.services import accounts, identity
from backend.storage.models import AuditEvent, RoleGrant, User
from tests.identity.entra_support import (
    CLIENT_ID, FOREIGN_TENANT, JWKS_URL, METADATA_URL, TENANT, USER_OID, FakeEntra,
    entra_settings, hs256_with_public_key, mint, signing_key, unsigned_token)


@pytest.fixture
def app(make_app):
    return make_app(**entra_settings())


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(rt) -> Clock:
    fake = Clock()
    identity.key_store(rt).clock = fake
    return fake


def me(client, token: str):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def assert_rejected(response, code: str, token: str | None = None) -> None:
    assert response.status_code == 401, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"] and error["request_id"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if token:
        # Neither the token nor any recognisable piece of it travels back.
        body = response.get_data(as_text=True)
        assert all(part not in body for part in token.split(".") if len(part) > 8)


def users(rt) -> int:
    with rt.db.session(all_tenants=True) as session:
        return session.scalar(select(func.count()).select_from(User))


def test_a_valid_token_signs_the_user_in_keyed_by_tenant_and_object_id(client, rt, entra):
    response = me(client, mint(roles=["drafter", "analyst", "not-a-role"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["idp"] == "entra" and body["identity"] == "token"
    assert body["tenant_id"] == TENANT and body["subject"] == USER_OID
    assert body["roles"] == ["analyst", "drafter"]
    with rt.db.session(TENANT) as session:
        user = session.scalars(select(User)).one()
        assert (user.idp, user.subject, user.tenant_id) == ("entra", USER_OID, TENANT)
        assert user.email == "sam@corp-example.com" and user.display_name == "Sam Lee"


def test_the_application_id_uri_is_an_accepted_audience(client, entra):
    assert me(client, mint(aud=f"api://{CLIENT_ID}")).status_code == 200


@pytest.mark.parametrize("overrides, code", [
    ({"aud": "00000003-0000-0000-c000-000000000000"}, "wrong_audience"),   # a Graph token
    ({"aud": "api://someone-else"}, "wrong_audience"),
    ({"iss": "https://sts.windows.net/" + TENANT + "/"}, "wrong_issuer"),   # v1 issuer
    ({"iss": f"https://login.microsoftonline.com/{FOREIGN_TENANT}/v2.0"}, "wrong_issuer"),
    ({"exp": int(time.time()) - 600}, "token_expired"),
    ({"nbf": int(time.time()) + 600}, "invalid_token"),                     # not yet valid
    ({"scp": "User.Read Mail.Read"}, "missing_scope"),
    ({"scp": None}, "missing_scope"),                                       # app-only token
    ({"ver": "1.0"}, "invalid_token"),
    ({"oid": None}, "invalid_token"),
    ({"exp": None}, "invalid_token"),
])
def test_a_wrong_claim_is_rejected_with_its_own_code(client, rt, entra, overrides, code):
    token = mint(**overrides)
    assert_rejected(me(client, token), code, token)
    assert users(rt) == 0


def test_a_small_clock_skew_is_accepted(client, entra):
    now = int(time.time())
    assert me(client, mint(exp=now - 60)).status_code == 200            # expired a minute ago
    assert me(client, mint(nbf=now + 60, iat=now + 60)).status_code == 200  # a fast clock


def test_a_token_from_a_tenant_not_allowed_is_refused_without_calling_microsoft(
        client, rt, mock, entra):
    token = mint(tid=FOREIGN_TENANT, iss=f"https://login.microsoftonline.com/{FOREIGN_TENANT}/v2.0")
    assert_rejected(me(client, token), "tenant_not_allowed", token)
    assert len(mock.calls) == 0 and users(rt) == 0


def test_alg_none_is_rejected_before_any_key_is_fetched(client, mock, entra):
    token = unsigned_token()
    assert_rejected(me(client, token), "invalid_token")
    assert len(mock.calls) == 0


def test_hs256_signed_with_the_public_key_is_rejected(client, mock, entra):
    token = hs256_with_public_key(signing_key("key-1"))
    assert_rejected(me(client, token), "invalid_token", token)
    assert len(mock.calls) == 0


def test_a_signature_by_another_key_with_the_published_key_id_is_rejected(client, entra):
    impostor = signing_key("impostor")
    token = mint(impostor, headers={"kid": "key-1"})
    assert_rejected(me(client, token), "invalid_token", token)


@pytest.mark.parametrize("header", [
    "", "Bearer", "Bearer    ", "Basic dXNlcjpwYXNz", "bearer-token abc", "Token abc",
])
def test_a_request_without_a_bearer_token_gets_a_challenge(client, rt, entra, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/me", headers=headers)
    assert_rejected(response, "unauthorized")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="replywise"'
    assert users(rt) == 0


@pytest.mark.parametrize("garbage", ["abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30", "x" * 20_000,
                                     "....", "eyJ9.eyJ9.eyJ9"])
def test_garbage_is_an_invalid_token(client, mock, entra, garbage):
    response = me(client, garbage)
    assert_rejected(response, "invalid_token")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="replywise", error="invalid_token"'
    assert len(mock.calls) == 0


def test_keys_are_fetched_once_and_then_served_from_the_cache(client, entra):
    assert me(client, mint()).status_code == 200
    assert me(client, mint()).status_code == 200
    assert me(client, mint(oid="1b2c3d4e-0000-4000-8000-000000000001")).status_code == 200
    assert entra.fetches(METADATA_URL) == 1 and entra.fetches(JWKS_URL) == 1


def test_an_unknown_key_id_refreshes_the_keys_once_then_is_rejected(client, entra, clock):
    assert me(client, mint()).status_code == 200
    stranger = signing_key("never-published")
    clock.advance(301)  # our copy is old enough that a new key could have appeared
    for _ in range(3):
        token = mint(stranger)
        assert_rejected(me(client, token), "unknown_key", token)
    assert entra.fetches(JWKS_URL) == 2 and entra.fetches(METADATA_URL) == 1


def test_an_unknown_key_id_right_after_fetching_does_not_refetch(client, entra, clock):
    assert me(client, mint()).status_code == 200
    for kid in ("spray-1", "spray-2", "spray-3"):
        assert_rejected(me(client, mint(signing_key(kid))), "unknown_key")
    assert entra.fetches(JWKS_URL) == 1


def test_a_rotated_key_is_accepted_once_it_is_published(client, entra, clock):
    assert me(client, mint()).status_code == 200
    rotated = signing_key("key-2")
    entra.keys.append(rotated)
    clock.advance(301)
    assert me(client, mint(rotated)).status_code == 200
    assert me(client, mint(rotated)).status_code == 200
    assert entra.fetches(JWKS_URL) == 2


def test_keys_older_than_a_day_are_fetched_again(client, entra, clock):
    assert me(client, mint()).status_code == 200
    clock.advance(24 * 3600 + 1)
    assert me(client, mint()).status_code == 200
    assert entra.fetches(METADATA_URL) == 2 and entra.fetches(JWKS_URL) == 2


def test_when_microsoft_is_down_cached_keys_keep_working(client, mock, entra, clock):
    assert me(client, mint()).status_code == 200
    mock.replace(responses.GET, METADATA_URL, status=503)
    clock.advance(24 * 3600 + 1)
    assert me(client, mint()).status_code == 200


def test_when_microsoft_is_down_and_nothing_is_cached_sign_in_is_unavailable(client, mock):
    mock.add(responses.GET, METADATA_URL, status=503)
    response = me(client, mint())
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "identity_unavailable"


def test_the_issuer_template_of_multi_tenant_metadata_is_filled_with_the_tenant(client, mock):
    FakeEntra(mock, issuer="https://login.microsoftonline.com/{tenantid}/v2.0")
    assert me(client, mint()).status_code == 200


def test_token_roles_meet_separation_of_duties_with_database_grants(client, rt, entra):
    assert me(client, mint(roles=["tenant_admin"])).get_json()["roles"] == [
        "drafter", "tenant_admin"]
    with rt.db.session(TENANT) as session:
        user = session.scalars(select(User)).one()
        session.add(RoleGrant(user_id=user.id, role="auditor", granted_by="test"))
        user_id = user.id
    accounts.forget_cached_user(rt, user_id)
    # The database says auditor: the token's tenant_admin is dropped, not the other way round.
    assert me(client, mint(roles=["tenant_admin"])).get_json()["roles"] == ["auditor", "drafter"]


def test_a_login_is_audited_once_per_window_and_a_rejection_not_at_all(client, rt, entra):
    assert_rejected(me(client, mint(aud="api://someone-else")), "wrong_audience")
    for _ in range(3):
        assert me(client, mint()).status_code == 200
    with rt.db.session(TENANT) as session:
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions == ["user.create", "auth.login"]


def test_local_identity_headers_mean_nothing_once_entra_is_configured(client, rt, entra):
    response = client.get("/api/v1/me", headers={"X-Replywise-User": "admin",
                                                  "X-Replywise-Tenant": TENANT})
    assert_rejected(response, "unauthorized")
    assert "X-Replywise-Identity" not in response.headers
    assert users(rt) == 0
