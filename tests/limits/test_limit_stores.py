"""Limit stores: a limit of N admits exactly N under concurrency, all-or-nothing, refunds."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from backend.governance.limits import Counter
from backend.services.limit_stores import DatabaseLimitStore, RedisLimitStore
from backend.storage.models import utcnow

THREADS = 24


def _counter(limit: str = "user_rpm", cap: int = 7, amount: int = 1, subject: str = "u1",
             tenant: str = "t1", seconds: int = 60) -> Counter:
    return Counter(tenant, limit, subject, "w1", amount, cap,
                   utcnow() + timedelta(seconds=seconds))


def _race(admit: Callable[[], object]) -> list[object]:
    """Call `admit` from many threads released at the same instant."""
    barrier = threading.Barrier(THREADS)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        outcome = admit()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_database_store_admits_exactly_n_from_concurrent_threads(rt):
    store = DatabaseLimitStore(rt.db)
    counter = _counter(cap=7)
    results = _race(lambda: store.admit("t1", [counter]))
    assert results.count(None) == 7
    assert store.usage("t1", [counter]) == {counter.key: 7}


def test_redis_store_admits_exactly_n_from_concurrent_threads(redis_ns):
    store = RedisLimitStore(redis_ns.client, redis_ns.prefix)
    counter = _counter(cap=7)
    results = _race(lambda: store.admit("t1", [counter]))
    assert results.count(None) == 7
    assert store.usage("t1", [counter]) == {counter.key: 7}
    # Keys carry the deployment prefix and the tenant hash tag, and expire with their window.
    (key,) = redis_ns.keys()
    assert key == f"{redis_ns.prefix}lim:{{t1}}:user_rpm:u1:w1"
    assert 0 < redis_ns.client.ttl(key) <= 60 + 3600


def _all_or_nothing(store) -> None:
    roomy = _counter("tenant_daily_tokens", cap=1000, amount=400, subject="")
    tight = _counter("user_daily_tokens", cap=500, amount=400)
    assert store.admit("t1", [roomy, tight]) is None
    refused = store.admit("t1", [roomy, tight])
    assert refused == tight
    # The refused request cost nothing, on either counter.
    assert store.usage("t1", [roomy, tight]) == {roomy.key: 400, tight.key: 400}
    # Settling refunds; a refund can never take a counter below zero.
    store.adjust("t1", [roomy, tight], -150)
    assert store.usage("t1", [roomy, tight]) == {roomy.key: 250, tight.key: 250}
    store.adjust("t1", [roomy, tight], -10_000)
    assert store.usage("t1", [roomy, tight]) == {roomy.key: 0, tight.key: 0}


def test_database_store_admits_all_counters_or_none_and_refunds(rt):
    _all_or_nothing(DatabaseLimitStore(rt.db))


def test_redis_store_admits_all_counters_or_none_and_refunds(redis_ns):
    _all_or_nothing(RedisLimitStore(redis_ns.client, redis_ns.prefix))


def test_a_request_larger_than_the_whole_budget_is_refused_outright(rt, redis_ns):
    huge = _counter("user_daily_tokens", cap=100, amount=101)
    assert DatabaseLimitStore(rt.db).admit("t1", [huge]) == huge
    assert RedisLimitStore(redis_ns.client, redis_ns.prefix).admit("t1", [huge]) == huge


def test_forgetting_a_user_deletes_only_their_counters(rt, redis_ns):
    mine, theirs = _counter(subject="u1"), _counter(subject="u2")
    tenant_wide = _counter("tenant_rpm", subject="")
    for store in (DatabaseLimitStore(rt.db), RedisLimitStore(redis_ns.client, redis_ns.prefix)):
        assert store.admit("t1", [mine, theirs, tenant_wide]) is None
        store.forget_user("t1", "u1")
        assert store.usage("t1", [mine, theirs, tenant_wide]) == {
            mine.key: 0, theirs.key: 1, tenant_wide.key: 1}
