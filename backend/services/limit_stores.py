"""Where limit counters live: Redis when configured, the database otherwise.

Both implement the same all-or-nothing admission: a request touches several counters (user and
tenant rate, user/team/tenant budgets) and is admitted only if every one of them fits; then all
are incremented together, otherwise none is. That is what makes "a limit of N admits exactly N"
hold across threads, workers and instances, and what makes a refused call cost nothing.

- Redis: one Lua script per admission (Redis runs scripts atomically). A tenant's keys share a
  hash tag, so the script also works on Redis Cluster.
- Database: one transaction of conditional upserts (`INSERT … ON CONFLICT DO UPDATE SET used =
  used + n WHERE used + n <= cap RETURNING used`). PostgreSQL locks the counter row and
  re-checks the condition against the latest committed value; SQLite runs the transaction
  under BEGIN IMMEDIATE behind the writer lock, so writers take turns. No row returned means
  "does not fit": the transaction is rolled back, undoing the counters already incremented.
  Counters are always touched in key order, so two admissions can never deadlock.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.errors import ServiceUnavailable
from backend.governance.limits import Counter
from backend.storage.db import Database
from backend.storage.models import LimitCounter, utcnow
from backend.storage.redis_client import scan_delete

log = logging.getLogger(__name__)

_COUNTERS = LimitCounter.__table__
_CLEANUP_CHANCE = 0.01  # expired counter rows are swept by roughly one admission in a hundred


class LimitsUnavailable(ServiceUnavailable):
    """The shared limit state cannot be reached. Budgets bound money, so we fail closed."""

    code = "limits_unavailable"


class LimitStore(Protocol):
    """Atomic counters for limits and budgets."""

    def admit(self, tenant_id: str, counters: Sequence[Counter]) -> Counter | None:
        """Add each counter's amount if all fit under their caps, else change nothing and
        return the first counter that does not fit."""
        ...

    def adjust(self, tenant_id: str, counters: Sequence[Counter], delta: int) -> None:
        """Add `delta` (negative: a refund) to counters that still exist; never below 0."""
        ...

    def usage(self, tenant_id: str, counters: Sequence[Counter]) -> dict[str, int]:
        """Current value of each counter, by key (0 when absent)."""
        ...

    def forget_user(self, tenant_id: str, user_id: str) -> None:
        """Delete a user's counters (erasure)."""
        ...


class _Full(Exception):
    def __init__(self, counter: Counter):
        self.counter = counter


class DatabaseLimitStore:
    """Counters in the `limit_counters` table (the embedded default)."""

    def __init__(self, db: Database):
        self._db = db
        self._insert = pg_insert if db.dialect == "postgresql" else sqlite_insert

    def admit(self, tenant_id: str, counters: Sequence[Counter]) -> Counter | None:
        for counter in counters:
            if counter.amount > counter.cap:
                return counter
        try:
            with self._db.session(tenant_id) as session:
                conn = session.connection()
                for counter in sorted(counters, key=lambda c: c.key):
                    if conn.execute(self._upsert(tenant_id, counter)).first() is None:
                        raise _Full(counter)  # rolls back every increment made so far
                if random.random() < _CLEANUP_CHANCE:
                    conn.execute(delete(LimitCounter).where(
                        LimitCounter.tenant_id == tenant_id, LimitCounter.expires_at < utcnow()))
        except _Full as full:
            return full.counter
        return None

    def _upsert(self, tenant_id: str, counter: Counter) -> Any:
        stmt = self._insert(_COUNTERS).values(key=counter.key, tenant_id=tenant_id,
                                              used=counter.amount, expires_at=counter.expires_at)
        grown = _COUNTERS.c.used + stmt.excluded.used
        return stmt.on_conflict_do_update(index_elements=[_COUNTERS.c.key],
                                          set_={"used": grown},
                                          where=grown <= counter.cap).returning(_COUNTERS.c.used)

    def adjust(self, tenant_id: str, counters: Sequence[Counter], delta: int) -> None:
        if not counters or not delta:
            return
        grown = _COUNTERS.c.used + delta
        with self._db.session(tenant_id) as session:
            session.connection().execute(
                _COUNTERS.update().where(_COUNTERS.c.key.in_(sorted(c.key for c in counters)))
                .values(used=case((grown < 0, 0), else_=grown)))

    def usage(self, tenant_id: str, counters: Sequence[Counter]) -> dict[str, int]:
        keys = [c.key for c in counters]
        with self._db.session(tenant_id) as session:
            rows = dict(session.connection().execute(
                select(_COUNTERS.c.key, _COUNTERS.c.used).where(_COUNTERS.c.key.in_(keys))).all())
        return {key: int(rows.get(key, 0)) for key in keys}

    def forget_user(self, tenant_id: str, user_id: str) -> None:
        with self._db.session(tenant_id) as session:
            session.connection().execute(_COUNTERS.delete().where(
                _COUNTERS.c.tenant_id == tenant_id,
                _COUNTERS.c.key.like(f"{tenant_id}|user\\_%|{user_id}|%", escape="\\")))


# KEYS: counters. ARGV: amount, cap, expire-at (unix seconds) for each key, in order.
_ADMIT = """
local n = #KEYS
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used + tonumber(ARGV[3 * i - 2]) > tonumber(ARGV[3 * i - 1]) then return i end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i], ARGV[3 * i - 2])
  redis.call('EXPIREAT', KEYS[i], ARGV[3 * i])
end
return 0
"""

# KEYS: counters. ARGV[1]: delta. A counter that has expired is not brought back.
_ADJUST = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local v = redis.call('INCRBY', KEYS[i], ARGV[1])
    if v < 0 then redis.call('INCRBY', KEYS[i], -v) end
  end
end
return 0
"""


class RedisLimitStore:
    """Counters in Redis, shared by every worker and instance."""

    def __init__(self, client: Any, prefix: str):
        from redis import RedisError  # installed whenever a Redis client exists

        self._client = client
        self._prefix = prefix
        self._errors = (RedisError,)
        self._admit = client.register_script(_ADMIT)
        self._adjust = client.register_script(_ADJUST)

    def key(self, counter: Counter) -> str:
        # {tenant} is a hash tag: one tenant's counters sit in one slot on Redis Cluster.
        return (f"{self._prefix}lim:{{{counter.tenant_id}}}:{counter.limit}:{counter.subject}:"
                f"{counter.window}")

    def admit(self, tenant_id: str, counters: Sequence[Counter]) -> Counter | None:
        args: list[int] = []
        for counter in counters:
            args += [counter.amount, counter.cap, int(counter.expires_at.timestamp())]
        try:
            refused = int(self._admit(keys=[self.key(c) for c in counters], args=args))
        except self._errors as exc:
            log.error("limit store unreachable", extra={"error_type": type(exc).__name__})
            raise LimitsUnavailable("Usage limits cannot be checked right now; try again "
                                    "shortly.") from None
        return counters[refused - 1] if refused else None

    def adjust(self, tenant_id: str, counters: Sequence[Counter], delta: int) -> None:
        if counters and delta:
            self._adjust(keys=[self.key(c) for c in counters], args=[delta])

    def usage(self, tenant_id: str, counters: Sequence[Counter]) -> dict[str, int]:
        if not counters:
            return {}
        values = self._client.mget([self.key(c) for c in counters])
        return {c.key: int(v or 0) for c, v in zip(counters, values)}

    def forget_user(self, tenant_id: str, user_id: str) -> None:
        scan_delete(self._client, f"{self._prefix}lim:{{{tenant_id}}}:user_*:{user_id}:*")
