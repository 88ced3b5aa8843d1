"""Ingestion on a distributed task queue (RQ on Redis) when REPLYWISE_REDIS_URL is set.

Jobs carry the file's bytes, so a worker (`replywise kb worker`) can run on any machine that
reaches Redis and the database; nothing assumes a shared disk. Without Redis, the same
ingest code runs in-process. RQ is imported lazily: it is part of the `redis` extra.
"""
from __future__ import annotations

from typing import Any

from backend.errors import ServiceUnavailable, UnprocessableContent
from backend.governance import rbac
from backend.governance.identity import Principal
from backend.services import knowledge
from backend.services.runtime import Runtime

JOB_TIMEOUT_S = 3600
_RESULT_TTL_S = 86_400
_state: dict[str, Runtime] = {}


def queue(rt: Runtime):
    """The RQ queue of this deployment (one Redis connection per runtime)."""
    from redis import Redis
    from rq import Queue

    cached = rt.caches.get("kb_queue")
    if cached is None:
        connection = Redis.from_url(rt.settings.redis_url or "", socket_timeout=10,
                                    socket_connect_timeout=5)
        cached = rt.caches["kb_queue"] = Queue(rt.settings.kb_queue, connection=connection)
    return cached


def _actor(principal: Principal) -> dict[str, Any]:
    return {"idp": principal.idp, "tenant_id": principal.tenant_id,
            "subject": principal.subject, "roles": sorted(principal.roles),
            "user_id": principal.user_id}


def _principal(data: dict[str, Any]) -> Principal:
    return Principal(idp=data["idp"], tenant_id=data["tenant_id"], subject=data["subject"],
                     roles=frozenset(data["roles"]), user_id=data.get("user_id"))


def enqueue_file(rt: Runtime, actor: Principal, name: str, data: bytes, *, groups, users,
                 source: str | None = None) -> str:
    """Queue one file for a worker; its job id. ServiceUnavailable when Redis is down."""
    from redis.exceptions import RedisError

    try:
        job = queue(rt).enqueue(run_file_job, _actor(actor), name, data, list(groups),
                                list(users), source, job_timeout=JOB_TIMEOUT_S,
                                result_ttl=_RESULT_TTL_S, failure_ttl=7 * _RESULT_TTL_S)
    except RedisError:
        raise ServiceUnavailable("The ingest queue (Redis) is unavailable; try again shortly.",
                                 code="kb_queue_unavailable") from None
    return job.id


def upload(rt: Runtime, actor: Principal, name: str, data: bytes, *, groups,
           users) -> tuple[int, dict[str, Any]]:
    """An admin upload: queued (202) when Redis is configured, else ingested now (201)."""
    rbac.require(actor, "kb.manage")
    knowledge.access(list(groups), list(users))  # refuse a bad request before queueing it
    if rt.settings.redis_url:
        job_id = enqueue_file(rt, actor, name, data, groups=groups, users=users)
        return 202, {"status": "queued", "job_id": job_id, "document_id": None}
    result = knowledge.ingest_upload(rt, actor, name, data, groups=groups, users=users)
    if result["status"] == "skipped":
        raise UnprocessableContent(f"The file was not ingested: {result['detail'] or result['reason']}.",
                                   code=f"kb_file_{result['reason']}")
    return 201, result


def run_file_job(actor: dict[str, Any], name: str, data: bytes, groups: list[str],
                 users: list[str], source: str | None = None) -> dict[str, Any]:
    """The job a worker runs: the same ingest as in-process, in the worker's runtime."""
    rt = _state.get("runtime")
    if rt is None:  # a worker started by plain `rq worker` rather than `replywise kb worker`
        from backend.config import Settings
        from backend.services.runtime import build_runtime
        rt = _state["runtime"] = build_runtime(Settings.from_env())
    return knowledge.ingest_upload(rt, _principal(actor), name, data, groups=groups,
                                   users=users, source=source)


def work(rt: Runtime, *, burst: bool = False) -> bool:
    """Run a worker on this runtime's queue (burst: until the queue is empty)."""
    from rq import SimpleWorker

    q = queue(rt)
    _state["runtime"] = rt
    # SimpleWorker runs jobs in this process: the runtime (database pool) is built once, and
    # no fork copies open connections.
    worker = SimpleWorker([q], connection=q.connection)
    return worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)


def job_states(rt: Runtime, job_ids: list[str]) -> dict[str, str]:
    """RQ status of each job (queued, started, finished, failed, ...)."""
    from rq.job import Job

    jobs = Job.fetch_many(job_ids, connection=queue(rt).connection)
    return {i: (j.get_status(refresh=False).value if j else "missing")
            for i, j in zip(job_ids, jobs)}


def job_result(rt: Runtime, job_id: str) -> dict[str, Any] | None:
    """A finished job's return value."""
    from rq.job import Job

    return Job.fetch(job_id, connection=queue(rt).connection).return_value()
