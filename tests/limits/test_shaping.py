"""Upstream shaping: caps hold, the queue is bounded, saturation fails over or answers 503."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from backend.config import ConfigError, Settings
from backend.drafting.model import ChatMessage, DraftContext, DraftOptions
from backend.providers.llm.base import (
    CompletionRequest,
    Finished,
    ProviderConfig,
    ProviderSaturated,
    TextDelta,
)
from backend.providers.llm.breaker import BreakerRegistry, BreakerState
from backend.providers.llm.chain import ProviderChain, collect
from backend.providers.llm.echo import EchoProvider
from backend.providers.llm.shaping import (
    Caps,
    LocalShapingState,
    RedisShapingState,
    ShapedProvider,
    Shaper,
)
from tests.conftest import local_headers
from tests.fakes.openai_server import Behaviour
from tests.web.drafting_support import draft_body, fake_provider

REQUEST = CompletionRequest(messages=(ChatMessage("user", "Please resend the invoice."),),
                            context=DraftContext(subject="Invoice", sender=None, latest="x"),
                            options=DraftOptions(), max_tokens=100)


class _Slow:
    """A provider that takes `seconds` and records how many calls overlap."""

    def __init__(self, name: str = "slow", seconds: float = 0.1) -> None:
        self.name, self.model, self.region, self.timeout_s = name, "m", "global", 5.0
        self.seconds = seconds
        self.active = self.peak = self.calls = 0
        self._lock = threading.Lock()

    def stream(self, request: CompletionRequest, timeout: float) -> Iterator[object]:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.seconds)
            yield TextDelta("ok")
            yield Finished("stop", self.model)
        finally:
            with self._lock:
                self.active -= 1


def _caps(**changes) -> Caps:
    values = dict(rpm=None, tpm=None, max_concurrency=None, max_queue=100, queue_timeout_s=5.0)
    values.update(changes)
    return Caps(**values)


def _run_all(provider, count: int) -> list[object]:
    outcomes: list[object] = []

    def call() -> None:
        try:
            outcomes.append(list(provider.stream(REQUEST, 10.0))[-1])
        except ProviderSaturated as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=call) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_the_concurrency_cap_holds_and_queued_calls_all_get_their_turn():
    inner = _Slow(seconds=0.05)
    shaped = ShapedProvider(inner, _caps(max_concurrency=2), Shaper(LocalShapingState()))
    outcomes = _run_all(shaped, 10)
    assert inner.peak == 2 and inner.calls == 10
    assert all(isinstance(o, Finished) for o in outcomes)


def test_a_full_queue_refuses_at_once_and_a_wait_that_runs_out_gives_up():
    shaper = Shaper(LocalShapingState())
    caps = _caps(max_concurrency=1, max_queue=1, queue_timeout_s=0.3)
    held = shaper.acquire("p", caps, 10, max_wait_s=0.0, lease_s=30)  # the one slot, taken
    waiter: list[BaseException] = []

    def wait_in_queue() -> None:
        try:
            shaper.acquire("p", caps, 10, max_wait_s=0.3, lease_s=30)
        except ProviderSaturated as exc:
            waiter.append(exc)

    queued = threading.Thread(target=wait_in_queue)
    queued.start()
    while shaper.waiting("p") < 1:
        time.sleep(0.005)
    started = time.monotonic()
    with pytest.raises(ProviderSaturated, match="queue full"):
        shaper.acquire("p", caps, 10, max_wait_s=0.3, lease_s=30)
    assert time.monotonic() - started < 0.1  # refused without waiting
    queued.join()
    assert [e.reason for e in waiter] == ["provider saturated"]
    shaper.state.release("p", held)
    assert shaper.acquire("p", caps, 10, max_wait_s=0.0, lease_s=30)


def test_rpm_and_tpm_count_calls_and_tokens_in_a_sliding_minute():
    now = [0.0]
    state = LocalShapingState(clock=lambda: now[0])
    caps = _caps(rpm=2, tpm=1000)
    assert state.try_acquire("p", caps, 400, 30)[0]
    now[0] = 20.0
    assert state.try_acquire("p", caps, 400, 30)[0]
    permit, wait = state.try_acquire("p", caps, 100, 30)
    assert permit is None and wait == pytest.approx(40.0)  # the first call leaves the window
    now[0] = 60.0
    permit, wait = state.try_acquire("p", caps, 700, 30)  # rpm has room; tpm: 400 + 700 > 1000
    assert permit is None and wait == pytest.approx(20.0)
    now[0] = 80.0
    assert state.try_acquire("p", caps, 700, 30)[0]


def test_a_saturated_provider_fails_over_without_tripping_its_breaker():
    shaper = Shaper(LocalShapingState())
    caps = _caps(max_concurrency=1, max_queue=0, queue_timeout_s=1.0)
    busy = ShapedProvider(EchoProvider(ProviderConfig(name="busy", kind="echo")), caps, shaper)
    spare = EchoProvider(ProviderConfig(name="spare", kind="echo"))
    held = shaper.acquire("busy", caps, 10, max_wait_s=0.0, lease_s=30)
    breakers = BreakerRegistry(failure_threshold=1)
    result = collect(ProviderChain([busy, spare], deadline_s=5, breaker=breakers)
                     .stream(REQUEST))
    assert result.provider == "spare" and result.failovers == 1
    assert [(a.provider, a.reason) for a in result.attempts][0] == ("busy", "provider queue full")
    assert len(result.attempts) == 2  # no retry of the saturated provider: it had its wait
    assert breakers.state("busy") is BreakerState.CLOSED
    shaper.state.release("busy", held)


def test_redis_shaping_shares_caps_between_processes(redis_ns):
    # Two Shapers with their own Redis state stand for two workers (or instances).
    inner = _Slow(seconds=0.05)
    caps = _caps(max_concurrency=3)
    workers = [ShapedProvider(inner, caps, Shaper(RedisShapingState(redis_ns.client,
                                                                    redis_ns.prefix)))
               for _ in range(2)]
    outcomes: list[object] = []
    threads = [threading.Thread(target=lambda w=w: outcomes.extend(_run_all(w, 5)))
               for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert inner.peak == 3 and inner.calls == 10
    assert all(isinstance(o, Finished) for o in outcomes)
    rpm = _caps(rpm=4, queue_timeout_s=0.0)
    admitted = [w.shaper.state.try_acquire("rpm-only", rpm, 10, 30)[0] for w in workers * 3]
    assert sum(p is not None for p in admitted) == 4


def test_when_every_provider_is_saturated_the_draft_gets_503_with_retry_after(
        make_app, openai_server):
    app = make_app(providers=(fake_provider(openai_server, max_concurrency=1,
                                            queue_timeout_s=0.2),))
    openai_server.set_default(Behaviour.ok(latency_s=1.0))
    answers: list = []

    def draft() -> None:
        answers.append(app.test_client().post("/api/v1/drafts", json=draft_body(),
                                              headers=local_headers()))

    threads = [threading.Thread(target=draft) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    ok, busy = sorted(answers, key=lambda r: r.status_code)
    assert (ok.status_code, busy.status_code) == (200, 503)
    assert busy.get_json()["error"]["code"] == "providers_saturated"
    assert 1 <= int(busy.headers["Retry-After"]) <= 60
    assert len(openai_server.requests) == 1
    rt = app.extensions["replywise"]
    assert rt.breakers.state("fake") is BreakerState.CLOSED


def test_shaping_keys_are_read_from_the_provider_chain_and_checked():
    settings = Settings.from_env({"REPLYWISE_PROVIDERS":
                                  '[{"kind": "echo", "rpm": 500, "tpm": 200000, '
                                  '"max_concurrency": 20, "queue_timeout_s": 2.5}, '
                                  '{"kind": "offline"}]'})
    shaped, plain = settings.providers
    assert (shaped.rpm, shaped.tpm, shaped.max_concurrency, shaped.queue_timeout_s) == (
        500, 200000, 20, 2.5)
    assert shaped.shaped and not plain.shaped
    assert Caps.of(shaped).max_queue == 80  # default: four waiting per concurrent slot
    with pytest.raises(ConfigError, match=r"REPLYWISE_PROVIDERS\[0\]\.rpm"):
        Settings.from_env({"REPLYWISE_PROVIDERS": '[{"kind": "echo", "rpm": 0}]'})
