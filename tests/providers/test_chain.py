"""ProviderChain: retries, Retry-After, deadlines, breakers, failover and resets."""
from __future__ import annotations

import collections
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from backend.providers.llm.base import (
    CompletionRequest,
    Finished,
    ProviderError,
    StreamEvent,
    TextDelta,
)
from backend.providers.llm.breaker import BreakerRegistry, BreakerState
from backend.providers.llm.chain import (
    AllProvidersFailed,
    Attempt,
    ChainEvent,
    Failed,
    ProviderChain,
    Reset,
    collect,
)
from backend.providers.llm.openai_provider import OpenAIProvider
from tests.fakes.openai_server import Behaviour, FakeOpenAIServer


class FakeClock:
    """A monotonic clock that only moves when told to; `sleep` records and advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass(frozen=True)
class Tick:
    """In a script: the upstream takes this long (advances the fake clock)."""

    seconds: float


Step = StreamEvent | ProviderError | Exception | Tick


def ok(text: str = "Hello there") -> list[Step]:
    """A script step list: the text in two deltas, then a proper finish."""
    half = len(text) // 2
    return [TextDelta(text[:half]), TextDelta(text[half:]), Finished("stop", "m")]


def err(reason: str = "server error 503", *, retryable: bool = True, status: int | None = 503,
        retry_after: float | None = None) -> ProviderError:
    return ProviderError("x", reason, retryable=retryable, status=status, retry_after=retry_after)


class ScriptedProvider:
    """An in-process provider that plays one scripted step list per call."""

    def __init__(self, name: str, clock: FakeClock, *calls: list[Step],
                 timeout_s: float = 10.0) -> None:
        self.name = name
        self.model = f"{name}-model"
        self.region = "global"
        self.timeout_s = timeout_s
        self.timeouts: list[float] = []
        self.closed = 0
        self._clock = clock
        self._calls = collections.deque(calls)

    def stream(self, request: CompletionRequest, timeout: float) -> Iterator[StreamEvent]:
        self.timeouts.append(timeout)
        steps = self._calls.popleft() if self._calls else ok(f"{self.name} default")
        try:
            for step in steps:
                if isinstance(step, Tick):
                    self._clock.now += step.seconds
                elif isinstance(step, Exception):
                    raise step
                else:
                    yield step
        finally:
            self.closed += 1


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> BreakerRegistry:
    return BreakerRegistry(failure_threshold=5, cooldown_s=30.0, clock=clock)


@pytest.fixture
def make_chain(clock: FakeClock, breaker: BreakerRegistry) -> Callable[..., ProviderChain]:
    def make(*providers: ScriptedProvider, deadline_s: float = 20.0,
             **options: Any) -> ProviderChain:
        return ProviderChain(list(providers), deadline_s=deadline_s, breaker=breaker,
                             clock=clock, sleep=clock.sleep, rng=lambda: 0.5, **options)
    return make


def kinds(events: list[ChainEvent]) -> list[str]:
    """A compact trace: Attempt:p#n, Δ, Reset:p, Failed:p, Finished."""
    trace = []
    for e in events:
        if isinstance(e, Attempt):
            trace.append(f"Attempt:{e.provider}#{e.number}")
        elif isinstance(e, TextDelta):
            trace.append("Δ")
        elif isinstance(e, Reset):
            trace.append(f"Reset:{e.provider}")
        elif isinstance(e, Failed):
            trace.append(f"Failed:{e.provider}")
        else:
            trace.append("Finished")
    return trace


def test_first_provider_answering_streams_deltas_straight_through(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, ok("Hello there"))

    stream = make_chain(primary).stream(completion_request)
    events = list(stream)

    assert kinds(events) == ["Attempt:primary#1", "Δ", "Δ", "Finished"]
    assert stream.provider == "primary" and stream.attempts[0].status == "ok"


def test_retryable_error_is_retried_after_jittered_backoff_then_succeeds(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [err()], ok("Second time lucky"))

    result = collect(make_chain(primary).stream(completion_request))

    assert result.text == "Second time lucky"
    assert clock.sleeps == [0.125]  # rng 0.5 x backoff base 0.25
    assert [(a.number, a.status, a.reason) for a in result.attempts] == [
        (1, "error", "server error 503"), (2, "ok", "stop")]
    assert (result.provider, result.failovers, result.resets) == ("primary", 0, 0)
    assert result.attempts[0].wait_s == 0.125


def test_backoff_grows_exponentially_and_is_capped(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [err()], [err()], [err()], [err()], ok())
    chain = make_chain(primary, max_attempts_per_provider=5, backoff_base_s=1.0,
                       backoff_max_s=3.0)

    collect(chain.stream(completion_request))

    assert clock.sleeps == [0.5, 1.0, 1.5, 1.5]


def test_retry_after_is_honoured_exactly(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock,
                               [err("rate limited", status=429, retry_after=2.5)], ok())

    result = collect(make_chain(primary).stream(completion_request))

    assert clock.sleeps == [2.5]
    assert result.provider == "primary"


def test_retry_after_beyond_the_deadline_fails_over_without_waiting(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock,
                               [err("rate limited", status=429, retry_after=60.0)])
    backup = ScriptedProvider("backup", clock, ok("From the backup"))

    stream = make_chain(primary, backup, deadline_s=20.0).stream(completion_request)
    events = list(stream)

    assert clock.sleeps == []
    assert kinds(events) == ["Attempt:primary#1", "Failed:primary", "Attempt:backup#1",
                             "Δ", "Δ", "Finished"]
    assert collect(events).text == "From the backup"
    assert stream.failovers == 1


def test_non_retryable_error_fails_over_to_the_next_provider_at_once(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [err("rejected 401", retryable=False, status=401)])
    backup = ScriptedProvider("backup", clock, ok())

    result = collect(make_chain(primary, backup).stream(completion_request))

    assert len(primary.timeouts) == 1 and clock.sleeps == []
    assert (result.provider, result.failovers) == ("backup", 1)


def test_exhausted_retries_fail_over(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [err()], [err()], [err()])
    backup = ScriptedProvider("backup", clock, ok())

    result = collect(make_chain(primary, backup).stream(completion_request))

    assert len(primary.timeouts) == 2  # max_attempts_per_provider
    assert [(a.provider, a.status) for a in result.attempts] == [
        ("primary", "error"), ("primary", "error"), ("backup", "ok")]


def test_stream_breaking_after_deltas_emits_reset_and_the_retry_text_is_final(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider(
        "primary", clock,
        [TextDelta("Dear Ann, "), TextDelta("the inv"), err("connection error", status=None)],
        ok("Dear Ann, here is the invoice."))

    stream = make_chain(primary).stream(completion_request)
    events = list(stream)
    result = collect(events)

    assert kinds(events) == ["Attempt:primary#1", "Δ", "Δ", "Reset:primary",
                             "Attempt:primary#2", "Δ", "Δ", "Finished"]
    assert events[3] == Reset("connection error", "primary")
    assert result.text == "Dear Ann, here is the invoice."
    assert stream.resets == 1 and stream.attempts[0].deltas == 2


def test_failure_before_any_delta_needs_no_reset(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [err()], ok())

    events = list(make_chain(primary).stream(completion_request))

    assert not any(isinstance(e, Reset) for e in events)


def test_stream_ending_without_finished_counts_as_a_broken_stream(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [TextDelta("half")], ok("whole"))

    stream = make_chain(primary).stream(completion_request)
    result = collect(stream)

    assert result.text == "whole" and result.resets == 1
    assert stream.attempts[0].reason == "stream ended without finish reason"


def test_a_provider_raising_a_bug_fails_over_instead_of_sinking_the_chain(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [KeyError("choices")])
    backup = ScriptedProvider("backup", clock, ok())

    stream = make_chain(primary, backup).stream(completion_request)
    result = collect(stream)

    assert result.provider == "backup"
    assert stream.errors[0].reason == "provider bug (KeyError)"


def test_each_call_gets_the_smaller_of_provider_timeout_and_remaining_deadline(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [Tick(3.0), err()], [err()], timeout_s=10.0)
    backup = ScriptedProvider("backup", clock, ok(), timeout_s=2.0)

    collect(make_chain(primary, backup, deadline_s=6.0).stream(completion_request))

    assert primary.timeouts == [6.0, pytest.approx(6.0 - 3.0 - 0.125)]
    assert backup.timeouts == [2.0]


def test_deadline_stops_the_chain_and_untried_providers_stay_untried(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [Tick(5.0), err("timeout", status=None)])
    backup = ScriptedProvider("backup", clock, ok())

    with pytest.raises(AllProvidersFailed) as info:
        list(make_chain(primary, backup, deadline_s=5.0).stream(completion_request))

    assert info.value.deadline_exceeded
    assert [(e.provider, e.reason) for e in info.value.errors] == [
        ("primary", "timeout"), ("backup", "deadline exceeded")]
    assert backup.timeouts == []


def test_a_trickling_stream_is_cut_at_the_deadline(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [TextDelta("a"), Tick(4.0), TextDelta("b"),
                                                  Tick(4.0), TextDelta("c"), *ok()])
    events: list[ChainEvent] = []

    with pytest.raises(AllProvidersFailed) as info:
        for event in make_chain(primary, deadline_s=6.0).stream(completion_request):
            events.append(event)

    assert kinds(events) == ["Attempt:primary#1", "Δ", "Δ", "Reset:primary", "Failed:primary"]
    assert info.value.errors[0].reason == "deadline exceeded"
    assert primary.closed == 1  # the upstream stream was closed, not leaked


def test_all_providers_failed_carries_every_error_and_attempt(
        make_chain: Callable[..., ProviderChain], clock: FakeClock,
        completion_request: CompletionRequest) -> None:
    primary = ScriptedProvider("primary", clock, [err("server error 500", status=500)],
                               [err("timeout", status=None)])
    backup = ScriptedProvider("backup", clock, [err("rejected 400", retryable=False, status=400)])

    with pytest.raises(AllProvidersFailed) as info:
        list(make_chain(primary, backup).stream(completion_request))

    assert [e.reason for e in info.value.errors] == ["server error 500", "timeout", "rejected 400"]
    assert [(a.provider, a.number) for a in info.value.attempts] == [
        ("primary", 1), ("primary", 2), ("backup", 1)]
    assert not info.value.deadline_exceeded


def test_breaker_opens_after_repeated_failures_and_the_provider_is_skipped(
        clock: FakeClock, completion_request: CompletionRequest) -> None:
    breaker = BreakerRegistry(failure_threshold=2, cooldown_s=30.0, clock=clock)
    primary = ScriptedProvider("primary", clock, [err()], [err()])
    backup = ScriptedProvider("backup", clock)
    chain = ProviderChain([primary, backup], deadline_s=20.0, max_attempts_per_provider=1,
                          breaker=breaker, clock=clock, sleep=clock.sleep)

    for _ in range(2):
        assert collect(chain.stream(completion_request)).provider == "backup"
    assert breaker.state("primary") is BreakerState.OPEN

    stream = chain.stream(completion_request)
    events = list(stream)

    assert len(primary.timeouts) == 2  # not called a third time
    assert kinds(events)[:2] == ["Failed:primary", "Attempt:backup#1"]
    assert stream.attempts[0].status == "skipped"
    assert stream.errors[0].reason == "circuit open"


def test_open_breaker_lets_one_trial_through_after_the_cool_down(
        clock: FakeClock, completion_request: CompletionRequest) -> None:
    breaker = BreakerRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    primary = ScriptedProvider("primary", clock, [err()], ok("recovered"))
    backup = ScriptedProvider("backup", clock)
    chain = ProviderChain([primary, backup], deadline_s=20.0, max_attempts_per_provider=1,
                          breaker=breaker, clock=clock, sleep=clock.sleep)
    collect(chain.stream(completion_request))
    assert breaker.state("primary") is BreakerState.OPEN

    clock.now += 30.0
    result = collect(chain.stream(completion_request))

    assert (result.provider, result.text) == ("primary", "recovered")
    assert breaker.state("primary") is BreakerState.CLOSED


def test_request_specific_rejections_do_not_trip_the_breaker(
        clock: FakeClock, completion_request: CompletionRequest) -> None:
    breaker = BreakerRegistry(failure_threshold=1, clock=clock)
    primary = ScriptedProvider("primary", clock,
                               [err("content filtered", retryable=False, status=None)])
    chain = ProviderChain([primary, ScriptedProvider("backup", clock)], deadline_s=20.0,
                          breaker=breaker, clock=clock, sleep=clock.sleep)

    collect(chain.stream(completion_request))

    assert breaker.state("primary") is BreakerState.CLOSED


def test_closing_the_stream_mid_answer_closes_upstream_and_frees_the_trial(
        clock: FakeClock, completion_request: CompletionRequest) -> None:
    breaker = BreakerRegistry(failure_threshold=1, cooldown_s=30.0, clock=clock)
    primary = ScriptedProvider("primary", clock, [err()], ok("a long answer"))
    chain = ProviderChain([primary, ScriptedProvider("backup", clock)], deadline_s=20.0,
                          max_attempts_per_provider=1, breaker=breaker, clock=clock,
                          sleep=clock.sleep)
    collect(chain.stream(completion_request))
    clock.now += 30.0

    stream = chain.stream(completion_request)
    assert isinstance(next(stream), Attempt)
    assert isinstance(next(stream), TextDelta)
    stream.close()

    assert primary.closed == 2
    assert stream.attempts[-1].status == "abandoned"
    assert breaker.allow("primary")  # the half-open trial permit was handed back


def test_collect_works_on_a_plain_event_list() -> None:
    events: list[ChainEvent] = [Attempt("p", "m", 1), TextDelta("x"), Reset("boom", "p"),
                                Attempt("p", "m", 2), TextDelta("y"), Failed("p", "boom"),
                                Attempt("q", "m", 1), TextDelta("z"), Finished("stop", "m")]

    result = collect(events)

    assert (result.text, result.provider, result.resets, result.failovers) == ("z", "q", 1, 1)


def test_collect_refuses_events_without_a_finish() -> None:
    with pytest.raises(ValueError):
        collect([Attempt("p", "m", 1), TextDelta("x")])


def test_duplicate_provider_names_are_refused(clock: FakeClock, breaker: BreakerRegistry) -> None:
    with pytest.raises(ValueError):
        ProviderChain([ScriptedProvider("a", clock), ScriptedProvider("a", clock)],
                      deadline_s=5.0, breaker=breaker)


def test_chain_over_real_http_retries_resets_and_fails_over(
        make_provider: Callable[..., OpenAIProvider], openai_server: FakeOpenAIServer,
        completion_request: CompletionRequest) -> None:
    primary = make_provider("primary")
    backup = make_provider("backup")
    openai_server.script(Behaviour.rate_limited("0.01"),     # primary #1: wait, retry
                         Behaviour.drop_after(4),             # primary #2: breaks mid-stream
                         Behaviour.ok("Here is the invoice."))  # backup #1
    sleeps: list[float] = []
    chain = ProviderChain([primary, backup], deadline_s=10.0, backoff_base_s=0.01,
                          breaker=BreakerRegistry(), sleep=sleeps.append)

    stream = chain.stream(completion_request)
    events = list(stream)
    result = collect(events)

    assert kinds(events) == ["Attempt:primary#1", "Attempt:primary#2", "Δ", "Δ", "Δ",
                             "Reset:primary", "Failed:primary", "Attempt:backup#1",
                             "Δ", "Δ", "Δ", "Δ", "Finished"]
    assert result.text == "Here is the invoice."
    assert sleeps == [0.01]
    assert [(a.provider, a.status, a.reason) for a in stream.attempts] == [
        ("primary", "error", "rate limited"), ("primary", "error", "connection error"),
        ("backup", "ok", "stop")]
    assert len(openai_server.requests) == 3
