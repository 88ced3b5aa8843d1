"""The ingest pipeline without the database: find files, hash, extract and chunk them.

Extraction is CPU-bound C++ (PDFium) behind a Python loop, so files are processed in a pool of
worker processes (one per core by default) while the caller writes results to the database.
A worker hashes the file first and stops there when the hash is the one already indexed, so
re-ingesting an unchanged corpus costs one read per file and no extraction.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from backend.knowledge.chunking import Chunk, chunk_pages
from backend.knowledge.extract import ExtractionError, extract, media_type_for

# Below this much work a pool's start-up (a new interpreter per worker) costs more than it saves.
_POOL_MIN_BYTES = 4_000_000


@dataclass(frozen=True)
class FileTask:
    """One file to look at; `known_hash` is the hash already indexed for its source, if any."""

    path: str
    source: str
    known_hash: str | None = None
    max_bytes: int = 500_000_000


@dataclass
class FileResult:
    """What came of one file: unchanged, extracted (with its passages) or skipped (why)."""

    source: str
    name: str
    status: str                      # unchanged | extracted | skipped
    content_hash: str = ""
    size_bytes: int = 0
    media_type: str = ""
    pages: int = 0
    chunks: list[Chunk] = field(default_factory=list)
    reason: str = ""                 # for skipped: corrupt | encrypted | empty | ...
    detail: str = ""


def discover(root: Path) -> list[Path]:
    """Supported files under `root` (or `root` itself), sorted; hidden files and folders skipped."""
    if root.is_file():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and media_type_for(name):
                found.append(Path(folder) / name)
    return sorted(found)


def content_hash(data: bytes) -> str:
    """The hash that decides whether a file changed."""
    return hashlib.sha256(data).hexdigest()


def process_bytes(data: bytes, name: str, source: str, known_hash: str | None = None
                  ) -> FileResult:
    """Hash, then (if changed) extract and chunk one file's bytes."""
    digest = content_hash(data)
    result = FileResult(source=source, name=name, status="unchanged", content_hash=digest,
                        size_bytes=len(data), media_type=media_type_for(name) or "")
    if digest == known_hash:
        return result
    try:
        extracted = extract(data, name)
    except ExtractionError as exc:
        result.status, result.reason, result.detail = "skipped", exc.kind, exc.detail
        return result
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop a whole corpus
        result.status, result.reason = "skipped", "corrupt"
        result.detail = f"could not be read ({type(exc).__name__})"
        return result
    result.status = "extracted"
    result.pages = len(extracted.pages)
    result.chunks = chunk_pages(extracted.pages, paged=extracted.paged)
    return result


def process_file(task: FileTask) -> FileResult:
    """`process_bytes` for a file on disk (runs in pool workers)."""
    path = Path(task.path)
    try:
        size = path.stat().st_size
        if size > task.max_bytes:
            return FileResult(task.source, path.name, "skipped", size_bytes=size,
                              reason="too_large", detail=f"{size} bytes is over the limit")
        data = path.read_bytes()
    except OSError as exc:
        return FileResult(task.source, path.name, "skipped", reason="unreadable",
                          detail=exc.strerror or type(exc).__name__)
    return process_bytes(data, path.name, task.source, task.known_hash)


def run(tasks: list[FileTask], workers: int) -> Iterator[FileResult]:
    """Results in task order, from a process pool when the work is worth one."""
    total = sum(_size(t.path) for t in tasks)
    if workers <= 1 or len(tasks) < 2 or total < _POOL_MIN_BYTES:
        yield from map(process_file, tasks)
        return
    # spawn, not fork: the parent holds database connections and threads a fork would copy.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # A bounded window of files in flight: extraction must not run ahead of the database
        # writer and hold a whole corpus of passages in memory.
        window: deque[Future[FileResult]] = deque()
        for task in tasks:
            if len(window) >= workers * 4:
                yield window.popleft().result()
            window.append(pool.submit(process_file, task))
        while window:
            yield window.popleft().result()


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def batches(results: Iterable[FileResult], max_chunks: int = 4000,
            max_files: int = 200) -> Iterator[list[FileResult]]:
    """Group results so each database transaction writes a few thousand passages."""
    batch: list[FileResult] = []
    chunks = 0
    for result in results:
        batch.append(result)
        chunks += len(result.chunks)
        if chunks >= max_chunks or len(batch) >= max_files:
            yield batch
            batch, chunks = [], 0
    if batch:
        yield batch
