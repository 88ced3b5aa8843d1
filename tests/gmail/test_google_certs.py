"""Google's certificates: cached as long as Google says, refreshed on a new key id (rate-limited),
and an old copy kept when Google's endpoint fails."""
from __future__ import annotations

import pytest
import responses

from backend.governance.google_tokens import UnknownKey
from backend.providers.google_certs import DEFAULT_TTL_S, CertsUnavailable, GoogleCerts
from tests.gmail.gmail_support import CERTS_URL, event, google_settings, jwks, signing_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _fetches(mock) -> int:
    return len([c for c in mock.calls if c.request.url == CERTS_URL])


def test_keys_are_cached_for_the_max_age_google_sends(mock):
    mock.get(CERTS_URL, json=jwks(), headers={"Cache-Control": "public, max-age=600"})
    clock = Clock()
    certs = GoogleCerts(CERTS_URL, clock=clock)
    assert certs.key_for(signing_key().kid) is not None
    clock.now += 599
    certs.key_for(signing_key().kid)
    assert _fetches(mock) == 1
    clock.now += 2
    certs.key_for(signing_key().kid)
    assert _fetches(mock) == 2


def test_without_cache_control_a_default_lifetime_applies(mock):
    mock.get(CERTS_URL, json=jwks())
    clock = Clock()
    certs = GoogleCerts(CERTS_URL, clock=clock)
    certs.key_for(signing_key().kid)
    clock.now += DEFAULT_TTL_S - 1
    certs.key_for(signing_key().kid)
    assert _fetches(mock) == 1


def test_an_unknown_key_id_refreshes_once_and_then_is_rate_limited(mock):
    mock.get(CERTS_URL, json=jwks(), headers={"Cache-Control": "max-age=3600"})
    clock = Clock()
    certs = GoogleCerts(CERTS_URL, clock=clock, min_refresh_interval_s=30)
    certs.key_for(signing_key().kid)
    clock.now += 60
    with pytest.raises(UnknownKey):
        certs.key_for("random-kid-1")
    assert _fetches(mock) == 2
    for n in range(20):  # a stream of forged key ids costs no further fetches
        with pytest.raises(UnknownKey):
            certs.key_for(f"random-kid-{n + 2}")
    assert _fetches(mock) == 2


def test_a_rotated_in_key_is_found_by_the_refresh(mock):
    rotated = signing_key("rotated")
    mock.get(CERTS_URL, json=jwks(signing_key()), headers={"Cache-Control": "max-age=3600"})
    clock = Clock()
    certs = GoogleCerts(CERTS_URL, clock=clock)
    certs.key_for(signing_key().kid)
    mock.replace("GET", CERTS_URL, json=jwks(signing_key(), rotated))
    clock.now += 120
    assert certs.key_for("rotated") is not None


def test_old_keys_are_kept_when_google_cannot_be_reached(mock):
    mock.get(CERTS_URL, json=jwks(), headers={"Cache-Control": "max-age=60"})
    clock = Clock()
    certs = GoogleCerts(CERTS_URL, clock=clock)
    certs.key_for(signing_key().kid)
    mock.replace("GET", CERTS_URL, status=503)
    clock.now += 120
    assert certs.key_for(signing_key().kid) is not None


def test_no_certificates_at_all_is_reported(mock):
    mock.get(CERTS_URL, status=503)
    with pytest.raises(CertsUnavailable):
        GoogleCerts(CERTS_URL).key_for(signing_key().kid)


def test_non_rsa_and_encryption_keys_are_ignored(mock):
    good = signing_key().jwk()
    mock.get(CERTS_URL, json={"keys": [{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
                                       {**good, "kid": "enc", "use": "enc"}, good]})
    certs = GoogleCerts(CERTS_URL)
    assert certs.key_for(good["kid"]) is not None
    with pytest.raises(UnknownKey):
        certs.key_for("hmac")


def test_endpoints_answer_503_when_googles_certificates_are_unavailable(make_app, user_token):
    with responses.RequestsMock() as rsps:
        rsps.get(CERTS_URL, status=500)
        app = make_app(**google_settings())
        response = app.test_client().post("/gmail/homepage", json=event(user_token=user_token()),
                                          headers={"Authorization": f"Bearer {user_token()}"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "identity_unavailable"
