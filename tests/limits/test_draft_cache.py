"""The draft cache: hits, Regenerate, per-user isolation, TTL, erasure, and no plaintext ever."""
from __future__ import annotations

import copy
import json
from decimal import Decimal

from sqlalchemy import select

from backend.governance.identity import Principal
from backend.services import accounts, drafting
from backend.services.draft_cache import CacheKey, CachedDraft, MemoryDraftCache
from backend.storage.models import Draft
from backend.web.api import parse_draft_request
from tests.conftest import local_headers
from tests.fakes.openai_server import Behaviour
from tests.web.drafting_support import SAMPLE_MESSAGE, draft_body, fake_provider

PHONE_A, PHONE_B = "+44 20 7946 0958", "+44 20 7946 0321"


def _cached_app(make_app, openai_server, **settings):
    app = make_app(providers=(fake_provider(openai_server),), draft_cache_ttl_s=600, **settings)
    return app, app.test_client(), app.extensions["replywise"]


def _draft(client, user: str = "local-user", **extra):
    response = client.post("/api/v1/drafts", json={**draft_body(), **extra},
                           headers=local_headers(user=user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_an_identical_request_is_answered_from_the_cache_and_records_the_saving(
        make_app, openai_server):
    app, client, rt = _cached_app(make_app, openai_server)
    first, second = _draft(client), _draft(client)
    assert len(openai_server.requests) == 1
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["text"] == first["text"] and second["provider"] == first["provider"]
    assert second["usage"]["total_tokens"] == 0 and second["cost_usd"] == "0.000000"
    with rt.db.session("local") as session:
        rows = session.execute(select(Draft.cached, Draft.saved_usd, Draft.cost_usd)
                               .order_by(Draft.created_at)).all()
    assert [r.cached for r in rows] == [False, True]
    assert rows[1].saved_usd == rows[0].cost_usd > Decimal(0)


def test_regenerate_bypasses_the_cache_and_the_fresh_draft_replaces_the_cached_one(
        make_app, openai_server):
    _, client, _ = _cached_app(make_app, openai_server)
    openai_server.script(Behaviour.ok("First version."), Behaviour.ok("Second version."))
    assert _draft(client)["text"] == "First version."
    regenerated = _draft(client, regenerate=True)
    assert (regenerated["text"], regenerated["cached"]) == ("Second version.", False)
    again = _draft(client)
    assert (again["text"], again["cached"]) == ("Second version.", True)
    assert len(openai_server.requests) == 2


def test_the_cache_is_never_shared_between_users_or_different_options(make_app, openai_server):
    _, client, _ = _cached_app(make_app, openai_server)
    _draft(client, user="alice")
    _draft(client, user="bob")
    _draft(client, user="alice", options={"tone": "formal"})
    assert len(openai_server.requests) == 3
    assert _draft(client, user="bob")["cached"] is True


def test_a_ttl_of_zero_turns_the_cache_off(make_app, openai_server):
    client = make_app(providers=(fake_provider(openai_server),),
                      draft_cache_ttl_s=0).test_client()
    assert not _draft(client)["cached"] and not _draft(client)["cached"]
    assert len(openai_server.requests) == 2


def test_entries_expire_after_their_ttl_and_the_least_recently_used_go_first():
    now = [1000.0]
    cache = MemoryDraftCache(max_entries=2, clock=lambda: now[0])
    value = CachedDraft("Hi [PERSON_1].", "p", "m", 10, 5)
    a, b, c = (CacheKey("u", d) for d in "abc")
    cache.put(a, value, ttl_s=60)
    cache.put(b, value, ttl_s=60)
    assert cache.get(a) == value  # a is now the most recently used
    cache.put(c, value, ttl_s=60)
    assert cache.get(b) is None and cache.get(a) == value
    now[0] += 61
    assert cache.get(a) is None and cache.get(c) is None


def _request_with_phone(phone: str) -> dict:
    message = copy.deepcopy(SAMPLE_MESSAGE)
    message["body_text"] = message["body_text"].replace("Thanks,", f"Call me on {phone}.\n\nThanks,")
    return {"message": message}


def _placeholders(rt, phone: str) -> dict[str, str]:
    """original -> placeholder, exactly as the pipeline will redact this request."""
    principal = accounts.resolve(rt, Principal(idp="local", tenant_id="local",
                                               subject="local-user"))
    _, prepared = drafting.prepare(rt, principal, parse_draft_request(_request_with_phone(phone)))
    return {original: p for p, original in prepared.mapping.items()}


def test_the_cache_holds_placeholders_only_and_restores_with_each_requests_own_values(
        make_app, openai_server):
    app, client, rt = _cached_app(make_app, openai_server)
    placeholders = _placeholders(rt, PHONE_A)
    phone, person = placeholders[PHONE_A], placeholders["Jane Doe"]
    openai_server.script(Behaviour.ok(f"Dear {person}, I will call you on {phone}."))
    first = client.post("/api/v1/drafts", json=_request_with_phone(PHONE_A),
                        headers=local_headers()).get_json()
    # Same message but another number: the redacted prompt is the same, so the cached
    # (redacted) answer serves it, restored with this request's own number.
    second = client.post("/api/v1/drafts", json=_request_with_phone(PHONE_B),
                         headers=local_headers()).get_json()
    assert len(openai_server.requests) == 1
    assert first["text"] == f"Dear Jane Doe, I will call you on {PHONE_A}."
    assert second["text"] == f"Dear Jane Doe, I will call you on {PHONE_B}." and second["cached"]
    ((key, stored),) = rt.caches["draft_cache"].raw_items()
    plain = json.dumps([key.user, key.digest, stored.decode()])
    assert phone in stored.decode() and person in stored.decode()
    user_id = client.get("/api/v1/me", headers=local_headers()).get_json()["user_id"]
    for secret in (PHONE_A, PHONE_B, "7946", "Jane", "jane.doe", "acme-example", user_id,
                   "local-user", "Invoice 4411"):
        assert secret not in plain, secret


def test_the_redis_cache_is_shared_between_processes_and_erasure_empties_it(
        make_app, openai_server, redis_ns):
    apps = [make_app(providers=(fake_provider(openai_server),), draft_cache_ttl_s=600,
                     redis_url=redis_ns.url, redis_prefix=redis_ns.prefix) for _ in range(2)]
    one, two = (a.test_client() for a in apps)
    assert _draft(one)["cached"] is False
    assert _draft(two)["cached"] is True  # another worker (or instance) reads the same entry
    assert len(openai_server.requests) == 1
    (key,) = [k for k in redis_ns.keys() if ":dc:" in k]
    assert 0 < redis_ns.client.ttl(key) <= 600
    value = redis_ns.client.get(key).decode()
    assert "Jane" not in value and "jane.doe" not in value and "local-user" not in key
    user_id = one.get("/api/v1/me", headers=local_headers()).get_json()["user_id"]
    erased = two.post("/api/v1/privacy/erasure", json={"user_id": user_id},
                      headers=local_headers(user="officer"))
    assert erased.status_code == 200, erased.get_json()
    assert [k for k in redis_ns.keys() if ":dc:" in k] == []


def test_erasure_empties_the_in_process_cache_of_that_user_only(make_app, openai_server):
    app, client, rt = _cached_app(make_app, openai_server)
    _draft(client, user="alice")
    _draft(client, user="bob")
    alice = client.get("/api/v1/me", headers=local_headers(user="alice")).get_json()["user_id"]
    assert client.post("/api/v1/privacy/erasure", json={"user_id": alice},
                       headers=local_headers(user="officer")).status_code == 200
    assert len(rt.caches["draft_cache"].raw_items()) == 1
