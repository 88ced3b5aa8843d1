"""Per-provider circuit breakers, shared by every request thread of the process."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"        # calls flow
    OPEN = "open"            # calls are skipped until the cool-down ends
    HALF_OPEN = "half_open"  # one trial call decides between CLOSED and OPEN


@dataclass(frozen=True)
class BreakerSnapshot:
    """One provider's breaker, as /metrics reports it."""

    state: BreakerState
    consecutive_failures: int
    opened_for_s: float | None  # how long it has been open; None when closed
    trips: int                  # how many times it has opened since start


@dataclass
class _Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    opened_at: float = 0.0
    trial_started_at: float | None = None
    trips: int = 0


class BreakerRegistry:
    """Circuit breakers keyed by provider name: closed → open after N failures → half-open."""

    def __init__(self, *, failure_threshold: int = 5, cooldown_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        # One lock for all providers: the critical sections are a few assignments, and gunicorn
        # threads of one worker share this registry.
        self._lock = threading.Lock()
        self._breakers: dict[str, _Breaker] = {}

    def allow(self, name: str) -> bool:
        """Whether a call to `name` may go ahead now; in half-open, grants the single trial."""
        with self._lock:
            b = self._breakers.setdefault(name, _Breaker())
            now = self._clock()
            if b.state is BreakerState.CLOSED:
                return True
            if b.state is BreakerState.OPEN:
                if now - b.opened_at < self.cooldown_s:
                    return False
                b.state = BreakerState.HALF_OPEN
                b.trial_started_at = now
                return True
            # HALF_OPEN: one trial at a time. A trial whose outcome never arrives (a worker
            # killed mid-call) must not wedge the provider, so its permit expires after a cool-down.
            if b.trial_started_at is None or now - b.trial_started_at >= self.cooldown_s:
                b.trial_started_at = now
                return True
            return False

    def record_success(self, name: str) -> None:
        """The call worked (or the provider answered sensibly): close the breaker."""
        with self._lock:
            b = self._breakers.setdefault(name, _Breaker())
            b.state = BreakerState.CLOSED
            b.failures = 0
            b.trial_started_at = None

    def record_failure(self, name: str) -> None:
        """The provider failed; open the breaker at the threshold, or when a trial fails."""
        with self._lock:
            b = self._breakers.setdefault(name, _Breaker())
            b.failures += 1
            if b.state is BreakerState.HALF_OPEN or (
                    b.state is BreakerState.CLOSED and b.failures >= self.failure_threshold):
                b.state = BreakerState.OPEN
                b.opened_at = self._clock()
                b.trips += 1
            b.trial_started_at = None

    def release(self, name: str) -> None:
        """The call ended with no verdict (the caller went away): free a half-open trial permit."""
        with self._lock:
            b = self._breakers.get(name)
            if b is not None:
                b.trial_started_at = None

    def state(self, name: str) -> BreakerState:
        """The current state; an open breaker past its cool-down reports half-open."""
        with self._lock:
            b = self._breakers.get(name)
            if b is None:
                return BreakerState.CLOSED
            if b.state is BreakerState.OPEN and self._clock() - b.opened_at >= self.cooldown_s:
                return BreakerState.HALF_OPEN
            return b.state

    def snapshot(self) -> dict[str, BreakerSnapshot]:
        """Every known provider's breaker, for /metrics."""
        with self._lock:
            now = self._clock()
            result: dict[str, BreakerSnapshot] = {}
            for name, b in self._breakers.items():
                state = b.state
                if state is BreakerState.OPEN and now - b.opened_at >= self.cooldown_s:
                    state = BreakerState.HALF_OPEN
                result[name] = BreakerSnapshot(
                    state=state, consecutive_failures=b.failures,
                    opened_for_s=None if b.state is BreakerState.CLOSED else now - b.opened_at,
                    trips=b.trips)
            return result

    def reset(self, name: str | None = None) -> None:
        """Forget one provider's history, or everyone's (admin action, tests)."""
        with self._lock:
            if name is None:
                self._breakers.clear()
            else:
                self._breakers.pop(name, None)
