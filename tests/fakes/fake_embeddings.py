"""Deterministic "meaning" vectors for the fake server's /v1/embeddings endpoint.

Words are mapped to concepts (a few families of synonyms, below; any other word is its own
concept) and each concept to one dimension, so texts that share a concept are close in cosine
distance even when they share no word: "reimbursement" and "money back" meet, which lexical
search cannot see. Nothing here is learned; it is just enough meaning for tests.
"""
from __future__ import annotations

import math
import re
import zlib

DIMENSIONS = 64
_CONCEPTS = {
    "refund": ("refund", "refunds", "reimburse", "reimbursed", "reimbursement", "money", "repay",
               "repaid", "compensation"),
    "repair": ("repair", "repairs", "fix", "fixed", "fixing", "mend", "broken", "faulty"),
    "travel": ("travel", "train", "flight", "trip", "journey", "rail", "airfare"),
    "salary": ("salary", "payroll", "wage", "wages", "pay", "payslip"),
}
_CONCEPT_OF = {word: concept for concept, words in _CONCEPTS.items() for word in words}
_WORD = re.compile(r"[a-z]+")
_STOP = frozenset("a an and the of to for in on at is are be my our your we i you it by with "
                  "how do does can get back".split())


def embed(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    """A unit vector of `dimensions` for `text` (all zeros but one for a text without words)."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        concept = _CONCEPT_OF.get(word, word)
        vector[zlib.crc32(concept.encode()) % dimensions] += 1.0
    norm = math.sqrt(sum(x * x for x in vector))
    if not norm:
        vector[0] = 1.0
        return vector
    return [x / norm for x in vector]


def answer(body: dict) -> tuple[int, dict]:
    """(status, JSON) for an embeddings request body, as the OpenAI API shapes it."""
    given = body.get("input")
    texts = [given] if isinstance(given, str) else given
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        return 400, {"error": {"message": "input must be a string or a list of strings",
                               "type": "invalid_request_error"}}
    dimensions = body.get("dimensions") or DIMENSIONS
    data = [{"object": "embedding", "index": i, "embedding": embed(t, int(dimensions))}
            for i, t in enumerate(texts)]
    tokens = sum(len(t.split()) for t in texts)
    return 200, {"object": "list", "data": data, "model": body.get("model", ""),
                 "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
