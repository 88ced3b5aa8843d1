"""The provider chain: retries with backoff, one overall deadline, circuit breakers and failover.

Events stream out as they happen, so an HTTP endpoint can forward the first words at once:

    Attempt(openai, 1)  TextDelta…  Reset  [backoff]  Attempt(openai, 2)  TextDelta…  Finished
    Attempt(azure, 1)   Failed(azure)  Attempt(local, 1)  TextDelta…  Finished

The draft is the text streamed after the last Attempt. A Reset means "discard what this attempt
streamed"; it is only sent when the attempt had streamed something. When every provider fails
the iteration raises AllProvidersFailed and the caller falls back to the offline drafter.
"""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from backend.providers.llm.base import (
    CompletionRequest,
    Finished,
    LLMProvider,
    ProviderError,
    ProviderSaturated,
    TextDelta,
)
from backend.providers.llm.breaker import BreakerRegistry

log = logging.getLogger(__name__)

# Errors that say the provider itself is unwell or misconfigured (every request will fail), as
# opposed to "this request was refused" (400, 422, content filter), which proves it is up.
_PROVIDER_WIDE_STATUS = frozenset({401, 403, 404, 429})
_DEADLINE = "deadline exceeded"


@dataclass(frozen=True)
class Attempt:
    """A call to `provider` starts; `number` counts calls to this provider, from 1."""

    provider: str
    model: str
    number: int


@dataclass(frozen=True)
class Reset:
    """Discard the text streamed since the last Attempt: it broke off. Another attempt follows
    (or AllProvidersFailed is raised)."""

    reason: str
    provider: str


@dataclass(frozen=True)
class Failed:
    """The chain gives up on `provider` for this request and moves to the next one."""

    provider: str
    reason: str


ChainEvent = TextDelta | Finished | Attempt | Reset | Failed

AttemptStatus = Literal["ok", "error", "skipped", "abandoned"]


@dataclass(frozen=True)
class AttemptRecord:
    """One call (or skipped call) to a provider, for logs, audit and metrics. No content."""

    provider: str
    model: str
    number: int
    status: AttemptStatus  # skipped: circuit open; abandoned: the consumer stopped reading
    reason: str | None = None
    retryable: bool | None = None
    http_status: int | None = None
    latency_s: float = 0.0
    first_delta_s: float | None = None  # time to the first word: what users feel
    deltas: int = 0
    wait_s: float = 0.0  # backoff slept after this attempt before the next one


@dataclass(frozen=True)
class ChainResult:
    """A completed chained draft, for callers that do not stream."""

    text: str
    finish: Finished
    provider: str
    attempts: tuple[AttemptRecord, ...]
    failovers: int
    resets: int


class AllProvidersFailed(Exception):
    """No provider produced a draft; `errors` holds one or more errors per provider, in order."""

    def __init__(self, errors: list[ProviderError], *,
                 attempts: Sequence[AttemptRecord] = (), deadline_exceeded: bool = False) -> None:
        summary = "; ".join(f"{e.provider}: {e.reason}" for e in errors) or "no providers"
        super().__init__(f"all providers failed ({summary})")
        self.errors = errors
        self.attempts = tuple(attempts)
        self.deadline_exceeded = deadline_exceeded


class ChainStream(Iterator[ChainEvent]):
    """The events of one chained completion; records what happened as it goes."""

    def __init__(self, chain: ProviderChain, request: CompletionRequest) -> None:
        self.attempts: list[AttemptRecord] = []
        self.errors: list[ProviderError] = []
        self.provider: str | None = None  # the provider that finished, once one has
        self.failovers = 0
        self.resets = 0
        self._events = chain._run(request, self)

    def __next__(self) -> ChainEvent:
        return next(self._events)

    def __iter__(self) -> ChainStream:
        return self

    def close(self) -> None:
        """Stop early (the HTTP client went away): closes the upstream stream too."""
        self._events.close()

    def __enter__(self) -> ChainStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ProviderChain:
    """Tries providers in order, each up to `max_attempts_per_provider` times, within a deadline."""

    def __init__(self, providers: list[LLMProvider], *, deadline_s: float,
                 max_attempts_per_provider: int = 2, backoff_base_s: float = 0.25,
                 backoff_max_s: float = 4.0, breaker: BreakerRegistry,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] = random.random) -> None:
        names = [p.name for p in providers]
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        if len(set(names)) != len(names):
            # Breakers are keyed by name; two providers sharing one would trip each other.
            raise ValueError(f"provider names must be unique: {names}")
        if max_attempts_per_provider < 1:
            raise ValueError("max_attempts_per_provider must be at least 1")
        self.providers = tuple(providers)
        self.deadline_s = deadline_s
        self.max_attempts_per_provider = max_attempts_per_provider
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.breaker = breaker
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    def stream(self, request: CompletionRequest) -> ChainStream:
        """Start a chained completion; iterate the result for events."""
        return ChainStream(self, request)

    def _run(self, request: CompletionRequest,
             st: ChainStream) -> Generator[ChainEvent, None, None]:
        deadline = self._clock() + self.deadline_s
        for index, provider in enumerate(self.providers):
            if index:
                st.failovers += 1
            outcome = yield from self._try_provider(provider, request, deadline, st)
            if outcome == "ok":
                return
            if outcome == "deadline":
                raise AllProvidersFailed(st.errors, attempts=st.attempts, deadline_exceeded=True)
        raise AllProvidersFailed(st.errors, attempts=st.attempts)

    def _try_provider(self, provider: LLMProvider, request: CompletionRequest, deadline: float,
                      st: ChainStream) -> Generator[ChainEvent, None, str]:
        """Call one provider until it finishes, fails for good, or time runs out."""
        name = provider.name
        # Not part of the LLMProvider protocol (yet); every provider here exposes it.
        provider_timeout: float | None = getattr(provider, "timeout_s", None)
        for number in range(1, self.max_attempts_per_provider + 1):
            remaining = deadline - self._clock()
            if remaining <= 0:
                st.errors.append(ProviderError(name, _DEADLINE, retryable=False))
                yield Failed(name, _DEADLINE)
                return "deadline"
            if not self.breaker.allow(name):
                st.errors.append(ProviderError(name, "circuit open", retryable=False))
                st.attempts.append(AttemptRecord(name, provider.model, number, "skipped",
                                                 reason="circuit open"))
                yield Failed(name, "circuit open")
                return "failover"
            timeout = remaining if provider_timeout is None else min(provider_timeout, remaining)
            try:
                yield Attempt(name, provider.model, number)
            except GeneratorExit:
                self.breaker.release(name)  # hand back a half-open trial permit we never used
                raise

            started = self._clock()
            deltas = 0
            first_delta_s: float | None = None
            settled = False  # a verdict went to the breaker and a record to `st.attempts`
            error: ProviderError
            counts_against = False
            events: Iterator[object] | None = None
            try:
                try:
                    events = iter(provider.stream(request, timeout))
                    for event in events:
                        if isinstance(event, Finished):
                            self.breaker.record_success(name)
                            settled = True
                            st.provider = name
                            st.attempts.append(AttemptRecord(
                                name, provider.model, number, "ok", reason=event.finish_reason,
                                latency_s=self._clock() - started, first_delta_s=first_delta_s,
                                deltas=deltas))
                            yield event
                            return "ok"
                        if not isinstance(event, TextDelta) or not event.text:
                            continue
                        if self._clock() > deadline:
                            # Read timeouts bound each read, not a slow trickle; cut it here.
                            counts_against = True
                            raise ProviderError(name, _DEADLINE, retryable=False)
                        deltas += 1
                        if first_delta_s is None:
                            first_delta_s = self._clock() - started
                        yield event
                    raise ProviderError(name, "stream ended without finish reason", retryable=True)
                except ProviderError as exc:
                    error = exc if exc.provider == name else _relabel(exc, name)
                except Exception as exc:  # a buggy provider must not sink the chain
                    log.warning("provider %s raised %s", name, type(exc).__name__, exc_info=True)
                    error = ProviderError(name, f"provider bug ({type(exc).__name__})",
                                          retryable=False)
            except GeneratorExit:
                # Our consumer stopped reading mid-attempt: no verdict on the provider.
                if not settled:
                    self.breaker.release(name)
                    st.attempts.append(AttemptRecord(
                        name, provider.model, number, "abandoned",
                        latency_s=self._clock() - started, first_delta_s=first_delta_s,
                        deltas=deltas))
                raise
            finally:
                # Closing a provider's generator closes its HTTP response (no leaked sockets).
                close = getattr(events, "close", None)
                if close is not None:
                    close()

            counts_against = counts_against or error.retryable or (
                error.status in _PROVIDER_WIDE_STATUS)
            if isinstance(error, ProviderSaturated):
                self.breaker.release(name)  # our own shaping queue was full: the provider is fine
            elif counts_against:
                self.breaker.record_failure(name)
            else:
                self.breaker.record_success(name)  # it answered; the request was the problem

            wait = self._retry_wait(error, number, deadline)
            st.errors.append(error)
            st.attempts.append(AttemptRecord(
                name, provider.model, number, "error", reason=error.reason,
                retryable=error.retryable, http_status=error.status,
                latency_s=self._clock() - started, first_delta_s=first_delta_s, deltas=deltas,
                wait_s=wait or 0.0))
            log.info("provider %s attempt %d failed: %s (status %s, %d deltas)", name, number,
                     error.reason, error.status, deltas)
            if deltas:
                st.resets += 1
                yield Reset(error.reason, name)
            if wait is None:
                yield Failed(name, error.reason)
                return "failover"
            if wait > 0:
                self._sleep(wait)
        return "failover"  # unreachable: the last attempt's _retry_wait is None

    def _retry_wait(self, error: ProviderError, number: int, deadline: float) -> float | None:
        """Seconds to wait before retrying this provider, or None to fail over now."""
        if (not error.retryable or number >= self.max_attempts_per_provider
                or isinstance(error, ProviderSaturated)):  # it has already waited in the queue
            return None
        remaining = deadline - self._clock()
        if error.retry_after is not None:
            # The server said when; waiting past our deadline is pointless, so fail over instead.
            return error.retry_after if error.retry_after < remaining else None
        # Exponential backoff with full jitter: spreads retries of many threads hitting one
        # overloaded upstream at the same moment.
        ceiling = min(self.backoff_max_s, self.backoff_base_s * 2 ** (number - 1))
        wait = self._rng() * ceiling
        return wait if wait < remaining else None


def _relabel(error: ProviderError, name: str) -> ProviderError:
    """The error under the chain's name for the provider, so AllProvidersFailed reads right."""
    relabelled = ProviderError(name, error.reason, retryable=error.retryable,
                               retry_after=error.retry_after, status=error.status)
    relabelled.__cause__ = error
    return relabelled


def collect(events: Iterable[ChainEvent]) -> ChainResult:
    """Run a chained completion to the end and return the final text and what it took."""
    parts: list[str] = []
    finish: Finished | None = None
    provider = ""
    failovers = resets = 0
    for event in events:
        if isinstance(event, Attempt):
            parts = []
            provider = event.provider
        elif isinstance(event, Reset):
            parts = []
            resets += 1
        elif isinstance(event, Failed):
            failovers += 1
        elif isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, Finished):
            finish = event
    if finish is None:
        raise ValueError("the events ended without a Finished event")
    if isinstance(events, ChainStream):
        return ChainResult(text="".join(parts), finish=finish, provider=events.provider or provider,
                           attempts=tuple(events.attempts), failovers=events.failovers,
                           resets=events.resets)
    return ChainResult(text="".join(parts), finish=finish, provider=provider, attempts=(),
                       failovers=failovers, resets=resets)
