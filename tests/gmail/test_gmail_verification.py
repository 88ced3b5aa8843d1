"""Every /gmail/ request must come from Google for this deployment and for an enrolled domain.

Each attack is answered without a single Gmail API call: the message is never fetched.
"""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from backend.providers.google_certs import GoogleCerts
from backend.storage.models import User
from tests.gmail.gmail_support import (BASE_URL, CERTS_URL, GMAIL_URL, MESSAGE_DECIMAL,
                                       MESSAGE_HEX, OTHER_PROJECT_ACCOUNT, event, gmail_calls,
                                       hmac_with_public_key, jwks, message_resource,
                                       parent_message, sign, signing_key, system_claims,
                                       unsigned, user_claims)

MESSAGE_PATH = "/gmail/message"
MESSAGE_URL = BASE_URL + MESSAGE_PATH


@pytest.fixture
def client(addon, google):
    google.get(f"{GMAIL_URL}/gmail/v1/users/me/messages/{MESSAGE_HEX}",
               json=message_resource(parent_message()))
    return addon()


def _open(client, user_token, **kwargs):
    return client.post(MESSAGE_PATH, event(user_token=user_token,
                                           message_id=f"msg-f:{MESSAGE_DECIMAL}"), **kwargs)


def _assert_rejected(response, google):
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_google_token"
    assert gmail_calls(google) == []


def test_a_genuine_request_is_answered_and_reads_the_message(client, google, user_token):
    response = _open(client, user_token())
    assert response.status_code == 200
    assert len(gmail_calls(google)) == 1


def test_request_without_authorization_is_rejected(client, google, user_token):
    _assert_rejected(_open(client, user_token(), token=None), google)


def test_unsigned_token_is_rejected(client, google, user_token):
    _assert_rejected(_open(client, user_token(), token=unsigned(system_claims(MESSAGE_URL))),
                     google)


def test_hmac_token_keyed_with_the_public_key_is_rejected(client, google, user_token):
    _assert_rejected(_open(client, user_token(),
                           token=hmac_with_public_key(system_claims(MESSAGE_URL))), google)


def test_token_signed_by_another_key_under_googles_key_id_is_rejected(client, google,
                                                                       user_token):
    forger = signing_key("forger")
    forged = sign(system_claims(MESSAGE_URL), forger, kid=signing_key().kid)
    _assert_rejected(_open(client, user_token(), token=forged), google)


def test_token_with_a_key_id_google_never_published_is_rejected(client, google, user_token):
    forged = sign(system_claims(MESSAGE_URL), signing_key("forger"))
    _assert_rejected(_open(client, user_token(), token=forged), google)


def test_expired_token_is_rejected(client, google, user_token):
    past = int(time.time()) - 7200
    token = sign(system_claims(MESSAGE_URL, iat=past, exp=past + 3600))
    _assert_rejected(_open(client, user_token(), token=token), google)


def test_token_for_another_endpoint_audience_is_rejected(client, google, user_token):
    token = sign(system_claims("https://someone-else.example/gmail/message"))
    _assert_rejected(_open(client, user_token(), token=token), google)


def test_token_from_another_projects_addon_service_account_is_rejected(client, google,
                                                                        user_token):
    token = sign(system_claims(MESSAGE_URL, email=OTHER_PROJECT_ACCOUNT))
    _assert_rejected(_open(client, user_token(), token=token), google)


def test_service_account_with_unverified_email_is_rejected(client, google, user_token):
    token = sign(system_claims(MESSAGE_URL, email_verified=False))
    _assert_rejected(_open(client, user_token(), token=token), google)


def test_token_from_a_foreign_issuer_is_rejected(client, google, user_token):
    token = sign(system_claims(MESSAGE_URL, iss="https://accounts.evil.example"))
    _assert_rejected(_open(client, user_token(), token=token), google)


def test_user_token_for_another_oauth_client_is_rejected(client, google, user_token):
    _assert_rejected(_open(client, user_token(aud="someone-else.apps.googleusercontent.com")),
                     google)


def test_forged_user_token_is_rejected(client, google):
    forged = sign(user_claims(), signing_key("forger"), kid=signing_key().kid)
    _assert_rejected(_open(client, forged), google)


def test_consumer_account_gets_the_not_enrolled_card_and_no_user_is_created(client, google,
                                                                             user_token):
    response = _open(client, user_token(hd=None, email="someone@gmail.com"))
    assert response.status_code == 200
    card = response.get_json()["renderActions"]["action"]["navigations"][0]["pushCard"]
    assert "Personal Google accounts are not enrolled" in str(card)
    assert gmail_calls(google) == []
    rt = client.app.extensions["replywise"]
    with rt.db.session(all_tenants=True) as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_user_of_a_domain_that_is_not_enrolled_gets_the_not_enrolled_card(client, google,
                                                                           user_token):
    response = _open(client, user_token(hd="other-company.example",
                                        email="kim@other-company.example"))
    assert response.status_code == 200
    text = str(response.get_json())
    assert "other-company.example" in text and "not enrolled" in text
    assert gmail_calls(google) == []


def test_audiences_default_to_the_public_base_url_endpoints(addon, google, user_token):
    client = addon(google_endpoint_audiences=())
    assert client.post("/gmail/homepage", event(user_token=user_token())).status_code == 200
    wrong = sign(system_claims("https://replywise.test/elsewhere"))
    response = client.post("/gmail/homepage", event(user_token=user_token()), token=wrong)
    assert response.status_code == 401


def test_a_key_google_rotated_in_is_found_by_refreshing_the_certificates(client, google,
                                                                          user_token):
    rt = client.app.extensions["replywise"]
    # No wait between forced refreshes here; the rate limit has its own tests.
    rt.caches["google_certs"] = GoogleCerts(CERTS_URL, min_refresh_interval_s=0)
    rotated = signing_key("rotated")
    google.replace("GET", CERTS_URL, json=jwks(signing_key()),
                   headers={"Cache-Control": "max-age=600"})
    assert _open(client, user_token()).status_code == 200
    google.replace("GET", CERTS_URL, json=jwks(signing_key(), rotated),
                   headers={"Cache-Control": "max-age=600"})
    token = sign(system_claims(MESSAGE_URL), rotated)
    assert _open(client, user_token(), token=token).status_code == 200
    assert len([c for c in google.calls if c.request.url == CERTS_URL]) == 2


def test_without_google_configured_the_endpoints_refuse_plainly(make_app, google):
    response = make_app().test_client().post("/gmail/homepage", json=event(user_token="x"))
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "gmail_not_configured"
