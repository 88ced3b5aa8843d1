"""BreakerRegistry: closed → open after N consecutive failures → half-open trial → closed/open."""
from __future__ import annotations

import threading

from backend.providers.llm.breaker import BreakerRegistry, BreakerState


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_unknown_provider_starts_closed_and_is_allowed() -> None:
    breakers = BreakerRegistry()

    assert breakers.state("openai") is BreakerState.CLOSED
    assert breakers.allow("openai")


def test_opens_after_five_consecutive_failures_by_default() -> None:
    breakers = BreakerRegistry()

    for _ in range(4):
        breakers.record_failure("openai")
    assert breakers.allow("openai")
    breakers.record_failure("openai")

    assert breakers.state("openai") is BreakerState.OPEN
    assert not breakers.allow("openai")


def test_a_success_resets_the_failure_count() -> None:
    breakers = BreakerRegistry(failure_threshold=3)

    for outcome in ["fail", "fail", "ok", "fail", "fail"]:
        if outcome == "ok":
            breakers.record_success("openai")
        else:
            breakers.record_failure("openai")

    assert breakers.state("openai") is BreakerState.CLOSED


def test_providers_have_independent_breakers() -> None:
    breakers = BreakerRegistry(failure_threshold=1)

    breakers.record_failure("openai")

    assert not breakers.allow("openai")
    assert breakers.allow("azure")


def test_half_open_after_the_cool_down_lets_exactly_one_trial_through() -> None:
    clock = Clock()
    breakers = BreakerRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    breakers.record_failure("openai")

    clock.now = 29.9
    assert not breakers.allow("openai")
    clock.now = 30.0
    assert breakers.state("openai") is BreakerState.HALF_OPEN

    assert breakers.allow("openai")
    assert not breakers.allow("openai")


def test_successful_trial_closes_the_breaker() -> None:
    clock = Clock()
    breakers = BreakerRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    breakers.record_failure("openai")
    clock.now = 30.0
    assert breakers.allow("openai")

    breakers.record_success("openai")

    assert breakers.state("openai") is BreakerState.CLOSED
    assert breakers.allow("openai") and breakers.allow("openai")


def test_failed_trial_opens_the_breaker_for_another_cool_down() -> None:
    clock = Clock()
    breakers = BreakerRegistry(failure_threshold=5, cooldown_s=30.0, clock=clock)
    for _ in range(5):
        breakers.record_failure("openai")
    clock.now = 30.0
    assert breakers.allow("openai")

    breakers.record_failure("openai")  # one failure is enough in half-open

    assert breakers.state("openai") is BreakerState.OPEN
    clock.now = 59.0
    assert not breakers.allow("openai")
    clock.now = 60.0
    assert breakers.allow("openai")
    assert breakers.snapshot()["openai"].trips == 2


def test_released_trial_permit_can_be_taken_again() -> None:
    clock = Clock()
    breakers = BreakerRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    breakers.record_failure("openai")
    clock.now = 30.0
    assert breakers.allow("openai")

    breakers.release("openai")

    assert breakers.allow("openai")


def test_a_trial_that_never_reports_back_expires_after_a_cool_down() -> None:
    clock = Clock()
    breakers = BreakerRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    breakers.record_failure("openai")
    clock.now = 30.0
    assert breakers.allow("openai")

    clock.now = 59.0
    assert not breakers.allow("openai")
    clock.now = 60.0
    assert breakers.allow("openai")


def test_snapshot_reports_every_provider_for_metrics() -> None:
    clock = Clock()
    breakers = BreakerRegistry(failure_threshold=2, cooldown_s=30.0, clock=clock)
    breakers.record_failure("openai")
    breakers.record_failure("azure")
    breakers.record_failure("azure")
    clock.now = 12.0

    snap = breakers.snapshot()

    assert (snap["openai"].state, snap["openai"].consecutive_failures) == (BreakerState.CLOSED, 1)
    assert snap["openai"].opened_for_s is None
    assert (snap["azure"].state, snap["azure"].opened_for_s, snap["azure"].trips) == (
        BreakerState.OPEN, 12.0, 1)


def test_reset_forgets_history() -> None:
    breakers = BreakerRegistry(failure_threshold=1)
    breakers.record_failure("openai")

    breakers.reset("openai")

    assert breakers.allow("openai")


def test_concurrent_failures_are_all_counted() -> None:
    breakers = BreakerRegistry(failure_threshold=10_000)

    def fail_many() -> None:
        for _ in range(500):
            breakers.record_failure("openai")

    threads = [threading.Thread(target=fail_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert breakers.snapshot()["openai"].consecutive_failures == 4000


def test_concurrent_callers_in_half_open_get_a_single_trial() -> None:
    clock = Clock()
    breakers = BreakerRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    breakers.record_failure("openai")
    clock.now = 30.0
    start = threading.Barrier(16)
    granted: list[bool] = []
    lock = threading.Lock()

    def try_call() -> None:
        start.wait()
        allowed = breakers.allow("openai")
        with lock:
            granted.append(allowed)

    threads = [threading.Thread(target=try_call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert granted.count(True) == 1
