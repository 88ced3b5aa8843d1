"""Knowledge-base administration: ingest files and uploads, list and remove documents, groups.

Every change needs `kb.manage` (tenant_admin) and leaves an audit event. Documents carry the
groups and users who may read them; retrieval (services/grounding.py) enforces that in SQL.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from backend.errors import InvalidField, NotFound
from backend.governance import rbac
from backend.governance.identity import Principal, canonical_id
from backend.knowledge import index, ingest
from backend.services import accounts, audit, knowledge_presence, knowledge_vectors
from backend.services.runtime import Runtime
from backend.storage.models import utcnow
from backend.storage.models.knowledge import KbAccess, KbDocument, UserGroup

_NAME = re.compile(r"[^\s,][^,\n]{0,199}")
_WRITE_BATCH_CHUNKS = 1500  # per transaction: SQLite writers queue behind it, keep it short


@dataclass(frozen=True)
class Access:
    """Who may read a document."""

    groups: frozenset[str]
    users: frozenset[str]


@dataclass
class IngestReport:
    """What one ingest run did."""

    files: int = 0
    added: int = 0
    replaced: int = 0
    unchanged: int = 0
    removed: int = 0
    pages: int = 0
    chunks: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    embedded: int = 0                  # passages given a vector (pgvector, when configured)
    embedding_error: str | None = None
    seconds: float = 0.0
    written: list[int] = field(default_factory=list)  # ids of documents added or replaced

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("files", "added", "replaced", "unchanged",
                                               "removed", "pages", "chunks", "skipped",
                                               "embedded", "embedding_error", "seconds")}


@dataclass
class Progress:
    """Where a running ingest is, for a progress bar."""

    files_total: int
    bytes_total: int
    files_done: int = 0
    bytes_done: int = 0
    pages: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Time left, from the share of bytes done (pages are only known once read)."""
        if not self.bytes_done or not self.bytes_total:
            return None
        return self.elapsed * (self.bytes_total - self.bytes_done) / self.bytes_done


def access(groups: list[str] | tuple[str, ...], users: list[str] | tuple[str, ...]) -> Access:
    """Validated access lists; at least one group or user (`everyone`: the whole tenant).

    Entra object ids (group ids from the token's `groups` claim, user object ids) are stored
    in lower case, the way Entra sends them, however they were typed.
    """
    clean = {}
    for label, items in (("groups", groups), ("users", users)):
        values = {canonical_id(i) for i in items if i and i.strip()}
        bad = [v for v in values if not _NAME.fullmatch(v)]
        if bad:
            raise InvalidField(label, f"'{label}' entries must be 1-200 characters without "
                                      "commas or line breaks.")
        clean[label] = frozenset(values)
    if not clean["groups"] and not clean["users"]:
        raise InvalidField("groups", "Say who may read the documents: give at least one group "
                                     f"or user (the group '{index.EVERYONE}' is the whole "
                                     "tenant).")
    return Access(clean["groups"], clean["users"])


@dataclass
class _Known:
    id: int
    content_hash: str
    access: Access


def _known(session: Session, exact: str, prefix: str | None) -> dict[str, _Known]:
    """Indexed documents at `exact` or under `prefix`, with their access lists."""
    where = KbDocument.source == exact
    if prefix:
        where = or_(where, KbDocument.source.startswith(prefix, autoescape=True))
    docs = {d.id: (d.source, d.content_hash)
            for d in session.execute(select(KbDocument.id, KbDocument.source,
                                            KbDocument.content_hash).where(where))}
    grants: dict[int, tuple[set[str], set[str]]] = {i: (set(), set()) for i in docs}
    if docs:
        rows = session.execute(select(KbAccess.document_id, KbAccess.kind, KbAccess.principal)
                               .join(KbDocument, KbDocument.id == KbAccess.document_id)
                               .where(where))
        for document_id, kind, principal in rows:
            grants[document_id][0 if kind == "group" else 1].add(principal)
    return {source: _Known(i, digest, Access(frozenset(grants[i][0]), frozenset(grants[i][1])))
            for i, (source, digest) in docs.items()}


def _set_access(session: Session, tenant_id: str, document_id: int, acl: Access) -> None:
    session.execute(delete(KbAccess).where(KbAccess.document_id == document_id))
    rows = ([{"tenant_id": tenant_id, "document_id": document_id, "kind": "group",
              "principal": g} for g in sorted(acl.groups)]
            + [{"tenant_id": tenant_id, "document_id": document_id, "kind": "user",
                "principal": u} for u in sorted(acl.users)])
    session.execute(insert(KbAccess), rows)


def _apply(session: Session, tenant_id: str, result: ingest.FileResult, known: _Known | None,
           acl: Access, owner: str | None, report: IngestReport) -> int | None:
    """Write one file's outcome; return its document id (None when skipped)."""
    if result.status == "skipped":
        report.skipped.append({"file": result.source.removeprefix("upload:"),
                               "reason": result.reason, "detail": result.detail})
        return None
    if result.status == "unchanged" and known is not None:
        report.unchanged += 1
        if known.access != acl:
            _set_access(session, tenant_id, known.id, acl)
        return known.id
    now = utcnow()
    values = dict(name=result.name[:300], media_type=result.media_type,
                  content_hash=result.content_hash, size_bytes=result.size_bytes,
                  pages=result.pages, chunks=len(result.chunks), updated_at=now)
    if known is not None:
        document = session.get(KbDocument, known.id)
        for key, value in values.items():
            setattr(document, key, value)
        report.replaced += 1
    else:
        document = KbDocument(tenant_id=tenant_id, source=result.source, owner_user_id=owner,
                              created_at=now, **values)
        session.add(document)
        report.added += 1
    session.flush()
    _set_access(session, tenant_id, document.id, acl)
    index.replace_chunks(session, document.id, result.chunks)
    report.written.append(document.id)
    report.pages += result.pages
    report.chunks += len(result.chunks)
    return document.id


def ingest_path(rt: Runtime, actor: Principal, path: str | Path, *, groups=(), users=(),
                sync: bool = False, workers: int | None = None,
                progress: Callable[[Progress], None] | None = None) -> IngestReport:
    """Ingest a file or a folder tree: new files added, changed ones replaced, unchanged ones
    skipped by content hash; with `sync`, documents whose files are gone are removed."""
    acl = access(list(groups), list(users))
    started = time.perf_counter()
    root, files, known = plan(rt, actor, path)
    tasks = [ingest.FileTask(str(f), str(f), known[str(f)].content_hash if str(f) in known
                             else None, rt.settings.kb_max_file_bytes) for f in files]
    report = IngestReport(files=len(files))
    state = Progress(len(tasks), sum(_size(f) for f in files))
    batch: list[ingest.FileResult] = []
    pending_chunks = 0
    for result in ingest.run(tasks, workers or rt.settings.kb_ingest_workers or
                             (os.cpu_count() or 1)):
        batch.append(result)
        pending_chunks += len(result.chunks)
        state.files_done += 1
        state.bytes_done += result.size_bytes or 0
        state.pages += result.pages
        if pending_chunks >= _WRITE_BATCH_CHUNKS or len(batch) >= 200:
            _write(rt, actor, batch, known, acl, report)
            batch, pending_chunks = [], 0
        if progress:
            progress(state)
    _write(rt, actor, batch, known, acl, report)
    if sync:
        report.removed = remove_missing(rt, actor, known, {t.source for t in tasks})
    _embed(rt, actor.tenant_id, report)
    report.seconds = round(time.perf_counter() - started, 2)
    with rt.db.session(actor.tenant_id) as session:
        # The path may name a person (a home folder): the event keeps its hash only.
        audit.record(rt, session, actor, "kb.ingest",
                     target=("kb_path", ingest.content_hash(str(root).encode())[:32]),
                     details={k: v for k, v in report.as_dict().items()
                              if k not in ("skipped", "seconds", "embedding_error")}
                     | {"skipped": len(report.skipped), "sync": sync})
    return report


def _embed(rt: Runtime, tenant_id: str, report: IngestReport) -> None:
    """Vectors for the passages just written, after they are committed: a provider failure
    here leaves the documents searchable lexically, and `replywise kb embed` can finish."""
    result = knowledge_vectors.embed_documents(rt, tenant_id, report.written)
    report.embedded, report.embedding_error = result.embedded, result.error


def plan(rt: Runtime, actor: Principal, path: str | Path
         ) -> tuple[Path, list[Path], dict[str, _Known]]:
    """The files under `path` and the documents already indexed from there (kb.manage)."""
    rbac.require(actor, "kb.manage")
    root = Path(path).expanduser().resolve()
    if not root.exists():
        raise NotFound(f"No such file or folder: {root}")
    files = ingest.discover(root)
    prefix = None if root.is_file() else str(root).rstrip(os.sep) + os.sep
    with rt.db.session(actor.tenant_id) as session:
        accounts.ensure_tenant(session, actor.tenant_id)
        return root, files, _known(session, str(root), prefix)


def remove_missing(rt: Runtime, actor: Principal, known: dict[str, _Known],
                   seen: set[str]) -> int:
    """Sync: remove the documents whose files were not found this time."""
    gone = [k.id for source, k in known.items() if source not in seen]
    with rt.db.session(actor.tenant_id) as session:
        return delete_documents(session, gone)


def _write(rt: Runtime, actor: Principal, batch: list[ingest.FileResult],
           known: dict[str, _Known], acl: Access, report: IngestReport) -> None:
    if not batch:
        return
    with rt.db.session(actor.tenant_id) as session:
        for result in batch:
            _apply(session, actor.tenant_id, result, known.get(result.source), acl,
                   actor.user_id, report)
    knowledge_presence.changed(rt, actor.tenant_id)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def ingest_upload(rt: Runtime, actor: Principal, name: str, data: bytes, *, groups=(),
                  users=(), source: str | None = None) -> dict[str, Any]:
    """Ingest one file's bytes now; a re-upload under the same name (or `source`, a path the
    CLI sent through the queue) replaces it, identical bytes are left as they are."""
    rbac.require(actor, "kb.manage")
    acl = access(list(groups), list(users))
    source = source or f"upload:{name}"
    with rt.db.session(actor.tenant_id) as session:
        accounts.ensure_tenant(session, actor.tenant_id)
        known = _known(session, source, None)
    result = ingest.process_bytes(data, name, source,
                                  known[source].content_hash if source in known else None)
    report = IngestReport(files=1)
    with rt.db.session(actor.tenant_id) as session:
        document_id = _apply(session, actor.tenant_id, result, known.get(source), acl,
                             actor.user_id, report)
        audit.record(rt, session, actor, "kb.upload", target=("kb_document", str(document_id)),
                     details={"status": result.status, "reason": result.reason,
                              "pages": result.pages, "chunks": len(result.chunks)})
    knowledge_presence.changed(rt, actor.tenant_id)
    _embed(rt, actor.tenant_id, report)
    status = ("added" if report.added else "replaced" if report.replaced else
              "unchanged" if report.unchanged else "skipped")
    return {"status": status, "document_id": None if document_id is None else str(document_id),
            "reason": result.reason or None, "detail": result.detail or None,
            "pages": result.pages, "chunks": len(result.chunks), "embedded": report.embedded}


def delete_documents(session: Session, ids: list[int]) -> int:
    """Remove documents, their access lists and their passages."""
    for document_id in ids:
        index.delete_chunks(session, document_id)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        session.execute(delete(KbAccess).where(KbAccess.document_id.in_(part)))
        session.execute(delete(KbDocument).where(KbDocument.id.in_(part)))
    return len(ids)


def list_documents(rt: Runtime, actor: Principal) -> list[dict[str, Any]]:
    """The tenant's documents with who may read them (kb.manage)."""
    rbac.require(actor, "kb.manage")
    with rt.db.session(actor.tenant_id) as session:
        docs = session.scalars(select(KbDocument).order_by(KbDocument.name, KbDocument.id)).all()
        grants: dict[int, dict[str, list[str]]] = {d.id: {"group": [], "user": []} for d in docs}
        for row in session.execute(select(KbAccess.document_id, KbAccess.kind, KbAccess.principal)
                                   .order_by(KbAccess.principal)):
            if row.document_id in grants:
                grants[row.document_id][row.kind].append(row.principal)
        return [_document(d, grants[d.id]) for d in docs]


def _document(d: KbDocument, grants: dict[str, list[str]]) -> dict[str, Any]:
    return {"id": str(d.id), "name": d.name, "source": d.source, "media_type": d.media_type,
            "pages": d.pages, "chunks": d.chunks, "size_bytes": d.size_bytes,
            "content_hash": d.content_hash, "groups": grants["group"], "users": grants["user"],
            "owner_user_id": d.owner_user_id, "created_at": audit.iso(d.created_at),
            "updated_at": audit.iso(d.updated_at)}


def remove_document(rt: Runtime, actor: Principal, ref: str) -> dict[str, Any]:
    """Remove a document by id, source path or name (404 when none, or another tenant's)."""
    rbac.require(actor, "kb.manage")
    with rt.db.session(actor.tenant_id) as session:
        where = [KbDocument.source == ref, KbDocument.name == ref]
        if ref.isdigit():
            where.append(KbDocument.id == int(ref))
        found = session.scalars(select(KbDocument).where(or_(*where))).all()
        if not found:
            raise NotFound("No such document in this tenant's knowledge base.")
        if len(found) > 1:
            raise InvalidField("document", f"{len(found)} documents match '{ref}': give the id.")
        document = found[0]
        delete_documents(session, [document.id])
        audit.record(rt, session, actor, "kb.remove", target=("kb_document", str(document.id)))
    return {"removed": str(document.id), "name": document.name}


def delete_owned(session: Session, user_id: str, subject: str) -> int:
    """Erasure: remove the documents a person uploaded and every grant naming them."""
    owned = list(session.scalars(select(KbDocument.id).where(KbDocument.owner_user_id == user_id)))
    delete_documents(session, owned)
    session.execute(delete(KbAccess).where(KbAccess.kind == "user",
                                           KbAccess.principal.in_([user_id, subject])))
    return len(owned)


def set_group(rt: Runtime, actor: Principal, user_id: str, group: str, member: bool) -> list[str]:
    """Add a user to a group kept in the database, or take them out; the user's groups."""
    rbac.require(actor, "kb.manage")
    name = access([group], []).groups
    with rt.db.session(actor.tenant_id) as session:
        accounts.find_user(session, user_id)
        # Also the name as typed: a membership stored before ids were made lower case.
        session.execute(delete(UserGroup).where(UserGroup.user_id == user_id,
                                                UserGroup.group_name.in_(name | {group.strip()})))
        if member:
            session.add(UserGroup(tenant_id=actor.tenant_id, user_id=user_id,
                                  group_name=next(iter(name))))
        audit.record(rt, session, actor, "kb.group." + ("add" if member else "remove"),
                     target=("user", user_id), details={"group": next(iter(name))})
        session.flush()
        return sorted(session.scalars(select(UserGroup.group_name)
                                      .where(UserGroup.user_id == user_id)))
