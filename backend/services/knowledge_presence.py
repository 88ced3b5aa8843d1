"""Whether a tenant has a knowledge base at all, remembered for a few seconds per process.

Most tenants have no documents, and asking the database on every draft would cost a
transaction for nothing. A "no" is remembered for ABSENT_TTL_S; writes through this process
forget it at once (`changed`), writes elsewhere (another instance, a queue worker on another
machine) show within that time. A "yes" is never remembered: the search that follows reads the
database anyway, and a removed knowledge base then simply finds nothing.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import select

from backend.services.runtime import Runtime
from backend.storage.models.knowledge import KbDocument

ABSENT_TTL_S = 10.0

_lock = threading.Lock()
_absent_until: dict[tuple[str, str], float] = {}  # (database url, tenant) -> monotonic deadline


def has_documents(rt: Runtime, tenant_id: str) -> bool:
    """True if the tenant may have documents (a recent "no" is taken from memory)."""
    key = (rt.db.url, tenant_id)
    with _lock:
        deadline = _absent_until.get(key)
    if deadline is not None and time.monotonic() < deadline:
        return False
    with rt.db.session(tenant_id, read_only=True) as session:
        present = session.execute(
            select(KbDocument.id).where(KbDocument.tenant_id == tenant_id).limit(1)
        ).first() is not None
    with _lock:
        if present:
            _absent_until.pop(key, None)
        else:
            _absent_until[key] = time.monotonic() + ABSENT_TTL_S
    return present


def changed(rt: Runtime, tenant_id: str) -> None:
    """The tenant's documents were written through this process: forget what was remembered."""
    with _lock:
        _absent_until.pop((rt.db.url, tenant_id), None)
