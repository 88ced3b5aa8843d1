"""Helpers for limits tests: setting rules, reading counters, staying inside one minute."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from backend.storage.models import LimitCounter, LimitRefusal
from tests.conftest import local_headers


def fresh_minute(min_left_s: float = 5.0) -> None:
    """Wait for the next minute when too little of this one is left: per-minute limits count
    in calendar minutes, and a test must not straddle the boundary."""
    second = datetime.now(timezone.utc).second + datetime.now(timezone.utc).microsecond / 1e6
    if 60 - second < min_left_s:
        time.sleep(60 - second + 0.05)


def put_limits(client, rules: list[dict[str, Any]], tenant: str = "local",
               admin: str = "admin") -> dict[str, Any]:
    """Replace the tenant's rules through the API as a local admin."""
    response = client.put("/api/v1/admin/limits", json={"limits": rules},
                          headers=local_headers(tenant, admin))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def counters(rt, tenant: str = "local") -> dict[str, int]:
    """Database counters of a tenant: "limit|subject" -> used (window left out)."""
    with rt.db.session(tenant) as session:
        rows = session.execute(select(LimitCounter.key, LimitCounter.used)).all()
    return {"|".join(key.split("|")[1:3]): used for key, used in rows
            if key.startswith(tenant + "|")}


def refusals(rt, tenant: str = "local") -> list[str]:
    with rt.db.session(tenant) as session:
        return list(session.scalars(select(LimitRefusal.name).order_by(LimitRefusal.created_at)))
