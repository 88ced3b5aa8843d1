"""Hybrid ranking: lexical candidates re-ordered by reciprocal-rank fusion with embeddings.

Only candidates the reader may read reach this step (the SQL filter ran first), so embeddings
can reorder but never widen what is returned.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

RRF_K = 60  # the usual constant: ranks matter, raw scores of different kinds do not


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def fuse(query: Sequence[float], candidates: Sequence[Sequence[float]]) -> list[int]:
    """Candidate indexes (given in lexical order) ordered by fused rank, best first."""
    by_vector = sorted(range(len(candidates)), key=lambda i: -cosine(query, candidates[i]))
    vector_rank = {index: rank for rank, index in enumerate(by_vector)}
    score = {i: 1 / (RRF_K + i + 1) + 1 / (RRF_K + vector_rank[i] + 1)
             for i in range(len(candidates))}
    return sorted(score, key=lambda i: (-score[i], i))
