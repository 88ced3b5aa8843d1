"""Limits and budgets: which apply to a request, and the windows they count in. Pure.

A tenant_admin sets rules; each rule caps one named limit:

    user_rpm, tenant_rpm                               drafts per minute
    user_daily_tokens, user_monthly_tokens             tokens per UTC day / calendar month
    team_daily_tokens, team_monthly_tokens             (a user's team is User.team)
    tenant_daily_tokens, tenant_monthly_tokens

A rule without a subject is the default for every user (or team, or the tenant itself); a rule
with `user_id` or `team` overrides the default for that one. No rule means no cap.

Every limit counts in a fixed window: the calendar minute, the UTC day, the UTC month. Fixed
windows make "a limit of N admits exactly N" checkable with one atomic increment per counter
(in the database or in Redis); the price is that a burst straddling a boundary can see up to 2N
within a few seconds, which is acceptable for protecting a service, and budgets are what bound
money. Retry-After is the time to the end of the refusing window.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

MAX_VALUE = 10**12

# name -> (scope, kind, window)
LIMITS: dict[str, tuple[str, str, str]] = {
    "user_rpm": ("user", "rate", "minute"),
    "tenant_rpm": ("tenant", "rate", "minute"),
    "user_daily_tokens": ("user", "budget", "day"),
    "user_monthly_tokens": ("user", "budget", "month"),
    "team_daily_tokens": ("team", "budget", "day"),
    "team_monthly_tokens": ("team", "budget", "month"),
    "tenant_daily_tokens": ("tenant", "budget", "day"),
    "tenant_monthly_tokens": ("tenant", "budget", "month"),
}

# Counters live a little past their window so a draft that started just before the boundary
# still settles into the window it reserved in.
_GRACE = timedelta(hours=1)


class LimitError(ValueError):
    """A limits document is invalid; `field` names where."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LimitRule:
    """One cap: `subject` "" is the default for its scope, else a user id or a team name."""

    name: str
    value: int
    subject: str = ""

    @property
    def scope(self) -> str:
        return LIMITS[self.name][0]

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"limit": self.name, "value": self.value}
        if self.subject:
            data["user_id" if self.scope == "user" else "team"] = self.subject
        return data


@dataclass(frozen=True)
class LimitSet:
    """A tenant's rules, validated."""

    rules: tuple[LimitRule, ...] = ()
    _index: dict[tuple[str, str], int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({(r.name, r.subject): r.value for r in self.rules})

    @property
    def empty(self) -> bool:
        return not self.rules

    @property
    def has_team_rules(self) -> bool:
        return any(r.scope == "team" for r in self.rules)

    @property
    def has_budgets(self) -> bool:
        return any(LIMITS[r.name][1] == "budget" for r in self.rules)

    def value_for(self, name: str, subject: str) -> int | None:
        """The cap for this subject: its own rule, else the scope's default, else None."""
        if subject and (name, subject) in self._index:
            return self._index[(name, subject)]
        return self._index.get((name, ""))

    @classmethod
    def from_document(cls, items: Any) -> "LimitSet":
        """Parse the API's list of rules; raise LimitError naming the bad entry."""
        if not isinstance(items, list):
            raise LimitError("limits", "'limits' must be a list of rules")
        rules: list[LimitRule] = []
        seen: set[tuple[str, str]] = set()
        for i, item in enumerate(items):
            where = f"limits[{i}]"
            if not isinstance(item, dict):
                raise LimitError(where, f"'{where}' must be an object")
            unknown = set(item) - {"limit", "value", "user_id", "team"}
            if unknown:
                raise LimitError(where, f"'{where}' has unknown field(s): "
                                        f"{', '.join(sorted(unknown))}")
            name = item.get("limit")
            if name not in LIMITS:
                raise LimitError(f"{where}.limit", f"'{where}.limit' must be one of "
                                                   f"{', '.join(LIMITS)}")
            value = item.get("value")
            if not isinstance(value, int) or isinstance(value, bool) or not \
                    0 <= value <= MAX_VALUE:
                raise LimitError(f"{where}.value", f"'{where}.value' must be an integer from 0 "
                                                   f"to {MAX_VALUE}")
            scope = LIMITS[name][0]
            subject = _subject(item, scope, where)
            if (name, subject) in seen:
                raise LimitError(where, f"'{where}' repeats a rule for {name}"
                                        + (f" and {subject!r}" if subject else ""))
            seen.add((name, subject))
            rules.append(LimitRule(name, value, subject))
        return cls(tuple(sorted(rules, key=lambda r: (r.name, r.subject))))

    def to_document(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rules]


def _subject(item: dict[str, Any], scope: str, where: str) -> str:
    for key, allowed_scope in (("user_id", "user"), ("team", "team")):
        if key in item:
            if scope != allowed_scope:
                raise LimitError(f"{where}.{key}", f"'{where}.{key}' applies only to "
                                                   f"{allowed_scope}_* limits")
            value = item[key]
            if not isinstance(value, str) or not 1 <= len(value) <= 100:
                raise LimitError(f"{where}.{key}", f"'{where}.{key}' must be 1-100 characters")
            return value
    return ""


@dataclass(frozen=True)
class Window:
    """A fixed counting window: `id` names it, `resets_at` is when the next one starts."""

    id: str
    resets_at: datetime


def window(kind: str, now: datetime) -> Window:
    """The minute, UTC day or UTC month containing `now`."""
    now = now.astimezone(timezone.utc)
    if kind == "minute":
        start = now.replace(second=0, microsecond=0)
        return Window(start.strftime("%Y%m%d%H%M"), start + timedelta(minutes=1))
    if kind == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(start.strftime("%Y%m%d"), start + timedelta(days=1))
    if kind == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (start + timedelta(days=32)).replace(day=1)
        return Window(start.strftime("%Y%m"), following)
    raise ValueError(f"unknown window {kind!r}")


@dataclass(frozen=True)
class Counter:
    """One counter a request must fit in: add `amount`, refuse if the total would pass `cap`."""

    tenant_id: str
    limit: str
    subject: str
    window: str
    amount: int
    cap: int
    resets_at: datetime

    @property
    def kind(self) -> str:
        return LIMITS[self.limit][1]

    @property
    def key(self) -> str:
        """Unique per tenant, limit, subject and window; no personal data (ids, team names)."""
        return f"{self.tenant_id}|{self.limit}|{self.subject}|{self.window}"

    @property
    def expires_at(self) -> datetime:
        return self.resets_at + _GRACE


def plan(limits: LimitSet, *, tenant_id: str, user_id: str, team: str | None, now: datetime,
         tokens: int) -> list[Counter]:
    """The counters a request touches: +1 on each rate, +`tokens` on each budget (reserved
    before the provider call; none when `tokens` is 0, e.g. a cache hit)."""
    counters: list[Counter] = []
    for name, (scope, kind, window_kind) in LIMITS.items():
        subject = {"user": user_id, "team": team or "", "tenant": ""}[scope]
        if scope == "team" and not team:
            continue  # a user without a team is bounded by the user and tenant budgets
        cap = limits.value_for(name, subject)
        if cap is None:
            continue
        amount = 1 if kind == "rate" else tokens
        if amount <= 0:
            continue
        w = window(window_kind, now)
        counters.append(Counter(tenant_id, name, subject, w.id, amount, cap, w.resets_at))
    return counters


def retry_after_s(resets_at: datetime, now: datetime) -> int:
    """Whole seconds until the window resets (at least 1)."""
    return max(1, math.ceil((resets_at - now).total_seconds()))


def refusal_message(counter: Counter, retry_after: int) -> str:
    """What the person reads when `counter` refused them. Names the limit, never content."""
    when = _human_wait(retry_after)
    if counter.limit == "user_rpm":
        return (f"You have reached your limit of {counter.cap} drafts per minute. "
                f"Try again in {when}.")
    if counter.limit == "tenant_rpm":
        return (f"Your organisation has reached its limit of {counter.cap} drafts per minute. "
                f"Try again in {when}.")
    scope, _, window_kind = LIMITS[counter.limit]
    whose = {"user": "Your", "team": "Your team's", "tenant": "Your organisation's"}[scope]
    period = {"day": "daily", "month": "monthly"}[window_kind]
    return (f"{whose} {period} AI budget of {counter.cap} tokens is used up. "
            f"It resets in {when}.")


def refusal_code(counter: Counter) -> str:
    return "rate_limited" if counter.kind == "rate" else "budget_exceeded"


def _human_wait(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{math.ceil(seconds / 60)} minutes"
    if seconds < 2 * 86400:
        return f"{math.ceil(seconds / 3600)} hours"
    return f"{math.ceil(seconds / 86400)} days"

