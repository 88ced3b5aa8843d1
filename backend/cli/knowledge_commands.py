"""`replywise kb`: ingest, list, remove, search, embed, groups, and the RQ worker."""
from __future__ import annotations

import sys
import time

import click

from backend.cli.context import open_runtime, print_json
from backend.errors import AppError
from backend.governance.identity import LOCAL_TENANT, Principal
from backend.knowledge.ingest import content_hash
from backend.governance.pii import PiiBlocked, Redactor
from backend.services import (accounts, grounding, knowledge, knowledge_tasks, knowledge_vectors,
                              tenants)
from backend.services.runtime import Runtime

_MAX_QUEUED_BYTES = 256 * 1024 * 1024  # file bytes waiting in Redis at once


def register(cli: click.Group) -> None:
    cli.add_command(kb)


def _operator(tenant: str) -> Principal:
    # The operator at the terminal administers the knowledge base; audit names the CLI.
    return Principal(idp="cli", tenant_id=tenant, subject="operator",
                     roles=frozenset({"tenant_admin"}))


def _split(values: tuple[str, ...]) -> list[str]:
    return [i.strip() for v in values for i in v.split(",") if i.strip()]


@click.group()
def kb() -> None:
    """The knowledge base that grounds drafts: documents and who may read them."""


@kb.command("ingest")
@click.argument("path", type=click.Path(exists=True))
@click.option("--groups", multiple=True,
              help="Groups that may read: Entra group object ids or database group names "
                   "(comma list; 'everyone').")
@click.option("--users", multiple=True, help="User ids or subjects that may read (comma list).")
@click.option("--tenant", default=LOCAL_TENANT)
@click.option("--sync", is_flag=True, help="Also remove documents whose files are gone.")
@click.option("--local", is_flag=True, help="Ingest in this process even when Redis is set.")
@click.option("--workers", type=int, default=None, help="Extraction processes (default: CPUs).")
def kb_ingest(path: str, groups, users, tenant: str, sync: bool, local: bool,
              workers: int | None) -> None:
    """Add a file or folder (PDF, DOCX, HTML, Markdown, text); unchanged files are skipped."""
    rt = open_runtime()
    try:
        actor = _operator(tenant)
        bar = _Bar()
        if rt.settings.redis_url and not local:
            report = _ingest_queued(rt, actor, path, _split(groups), _split(users), sync, bar)
        else:
            report = knowledge.ingest_path(rt, actor, path, groups=_split(groups),
                                           users=_split(users), sync=sync, workers=workers,
                                           progress=bar.update).as_dict()
        bar.close()
        for skipped in report["skipped"]:
            click.echo(f"skipped {skipped['file']}: {skipped['reason']}"
                       f"{' (' + skipped['detail'] + ')' if skipped['detail'] else ''}", err=True)
        print_json(report)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


def _ingest_queued(rt: Runtime, actor: Principal, path: str, groups: list[str],
                   users: list[str], sync: bool, bar: "_Bar") -> dict:
    """Hash here, send changed files to RQ workers (bytes in the job), follow them to the end."""
    acl = knowledge.access(groups, users)
    started = time.perf_counter()
    _, files, known = knowledge.plan(rt, actor, path)
    state = knowledge.Progress(len(files), sum(f.stat().st_size for f in files))
    report = knowledge.IngestReport(files=len(files))
    pending: dict[str, int] = {}
    results: list[str] = []
    names: dict[str, str] = {}
    for file in files:
        data = file.read_bytes()
        before = known.get(str(file))
        if before and before.content_hash == content_hash(data) and before.access == acl:
            report.unchanged += 1
            state.files_done += 1
            state.bytes_done += len(data)
        else:
            while sum(pending.values()) + len(data) > _MAX_QUEUED_BYTES and pending:
                _collect(rt, pending, results, state, bar)
            job = knowledge_tasks.enqueue_file(rt, actor, file.name, data, groups=groups,
                                               users=users, source=str(file))
            pending[job] = len(data)
            names[job] = str(file)
        bar.update(state)
    while pending:
        _collect(rt, pending, results, state, bar)
    for job_id in results:
        outcome = knowledge_tasks.job_result(rt, job_id) or {}
        status = outcome.get("status", "failed")
        if status in ("added", "replaced", "unchanged"):
            setattr(report, status, getattr(report, status) + 1)
            report.pages += outcome.get("pages", 0)
            report.chunks += outcome.get("chunks", 0)
        else:
            report.skipped.append({"file": names[job_id],
                                   "reason": outcome.get("reason") or status,
                                   "detail": outcome.get("detail") or ""})
    if sync:
        report.removed = knowledge.remove_missing(rt, actor, known, {str(f) for f in files})
    report.seconds = round(time.perf_counter() - started, 2)
    return report.as_dict()


def _collect(rt: Runtime, pending: dict[str, int], results: list[str],
             state: knowledge.Progress, bar: "_Bar") -> None:
    states = knowledge_tasks.job_states(rt, list(pending))
    done = [j for j, s in states.items() if s in ("finished", "failed", "canceled", "missing",
                                                   "stopped")]
    for job_id in done:
        state.bytes_done += pending.pop(job_id)
        state.files_done += 1
        results.append(job_id)
    bar.update(state)
    if not done:
        time.sleep(0.2)


class _Bar:
    """Files, pages, pages/s and time left on stderr: redrawn in place on a terminal,
    a line every few seconds otherwise (logs, CI)."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last = 0.0
        self._drawn = False

    def update(self, p: knowledge.Progress) -> None:
        now = time.monotonic()
        if now - self._last < (0.2 if self._tty else 5.0) and p.files_done < p.files_total:
            return
        self._last = now
        share = p.bytes_done / p.bytes_total if p.bytes_total else 1.0
        filled = int(share * 24)
        eta = "--" if p.eta_s is None else _duration(p.eta_s)
        line = (f"[{'#' * filled}{'.' * (24 - filled)}] {p.files_done:,}/{p.files_total:,} files"
                f"  {p.pages:,} pages  {p.pages_per_s:,.0f} pages/s  ETA {eta}")
        sys.stderr.write(("\r" + line) if self._tty else line + "\n")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn and self._tty:
            sys.stderr.write("\n")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


@kb.command("list")
@click.option("--tenant", default=LOCAL_TENANT)
def kb_list(tenant: str) -> None:
    """Documents with their pages, passages and readers."""
    rt = open_runtime()
    try:
        print_json(knowledge.list_documents(rt, _operator(tenant)))
    finally:
        rt.close()


@kb.command("remove")
@click.argument("document")
@click.option("--tenant", default=LOCAL_TENANT)
def kb_remove(document: str, tenant: str) -> None:
    """Remove a document by id, path or name."""
    rt = open_runtime()
    try:
        print_json(knowledge.remove_document(rt, _operator(tenant), document))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


@kb.command("search")
@click.argument("query")
@click.option("--as", "as_user", required=True, help="Search as this user (subject or id).")
@click.option("--tenant", default=LOCAL_TENANT)
@click.option("--limit", type=int, default=4)
def kb_search(query: str, as_user: str, tenant: str, limit: int) -> None:
    """What a user would get for a query: only passages of documents they may read."""
    rt = open_runtime()
    try:
        principal = _user(rt, tenant, as_user)
        # As a draft would: the query redacted, hybrid ranking when embeddings are on.
        redactor = Redactor(tenants.policy_for(rt, tenant).pii)
        try:
            hits = grounding.ranked(rt, principal, redactor.redact(query), limit, redactor)
        except PiiBlocked as exc:
            raise click.ClickException("The query holds data the tenant's policy keeps from "
                                       f"AI providers ({', '.join(exc.types)}).") from None
        print_json([{"document": h.document, "document_id": str(h.document_id), "page": h.page,
                     "score": round(h.score, 4), "text": h.text} for h in hits])
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


@kb.command("embed")
@click.option("--tenant", default=LOCAL_TENANT)
def kb_embed(tenant: str) -> None:
    """Give every passage without one a vector for hybrid ranking (PostgreSQL with pgvector,
    REPLYWISE_KB_EMBEDDING_MODEL set): after turning embeddings on or changing the model."""
    rt = open_runtime()
    try:
        report = knowledge_vectors.embed_missing(
            rt, _operator(tenant),
            progress=lambda r: click.echo(f"\r{r.embedded} passages embedded", nl=False,
                                          err=True))
        click.echo("", err=True)
        print_json(report.as_dict() | knowledge_vectors.stats(rt, tenant))
        if report.error:
            raise click.ClickException(report.error)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


def _user(rt: Runtime, tenant: str, ref: str) -> Principal:
    try:
        user_id = accounts.find_by_subject(rt, tenant, ref)
    except AppError:
        user_id = ref
    with rt.db.session(tenant) as session:
        user = accounts.find_user(session, user_id)
        return Principal(idp=user.idp, tenant_id=tenant, subject=user.subject, user_id=user.id)


@kb.command("group")
@click.argument("action", type=click.Choice(["add", "remove"]))
@click.argument("user")
@click.argument("group")
@click.option("--tenant", default=LOCAL_TENANT)
def kb_group(action: str, user: str, group: str, tenant: str) -> None:
    """Add a user (subject or id) to a group kept in the database, or take them out."""
    rt = open_runtime()
    try:
        user_id = _user(rt, tenant, user).user_id or ""
        groups = knowledge.set_group(rt, _operator(tenant), user_id, group, action == "add")
        print_json({"user_id": user_id, "groups": groups})
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


@kb.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def kb_worker(burst: bool) -> None:
    """Run an RQ ingest worker (any machine that reaches Redis and the database)."""
    rt = open_runtime()
    try:
        if not rt.settings.redis_url:
            raise click.ClickException("REPLYWISE_REDIS_URL is not set: without Redis, "
                                       "ingestion runs in-process and needs no worker.")
        knowledge_tasks.work(rt, burst=burst)
    finally:
        rt.close()
