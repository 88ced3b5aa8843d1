"""Sealing an audit event in the database: its canonical form, split around seq and prev_hash.

Pure, like audit_chain. Only two fields of an event depend on the tenant's chain head, seq and
prev_hash, so a database that appends events under the head's lock can hash them itself
from parts made here before the head is read (docs/adr/0007). The format is audit_chain's.
"""
from __future__ import annotations

from collections.abc import Mapping

from backend.governance.audit_chain import canonical_event


def canonical_parts(event: Mapping[str, object]) -> tuple[bytes, bytes, bytes]:
    """Split the canonical form of an event that has no seq, prev_hash or hash yet into
    (a, b, c): once it has them, it is a + prev_hash + b + str(seq) + c. Checked as
    audit_chain.canonical_event checks it (no floats, string keys...)."""
    placed = sorted({"seq", "prev_hash", "hash"} & set(event))
    if placed:
        raise ValueError(f"canonical_parts takes an event without {placed}")
    text = canonical_event({**event, "prev_hash": _PREV_HASH_SLOT, "seq": _SEQ_SLOT})
    prev_start, prev_end = _slot(text, b'"prev_hash":"', _PREV_HASH_SLOT.encode("ascii"))
    seq_start, seq_end = _slot(text, b'"seq":', str(_SEQ_SLOT).encode("ascii"))
    if prev_end > seq_start:  # sorted keys put prev_hash first; a + b + c relies on it
        raise ValueError("canonical form has seq before prev_hash")
    return text[:prev_start], text[prev_end:seq_start], text[seq_end:]


# Stand-ins for prev_hash and seq while canonical_parts splits an event around them. They are
# found with their key ("prev_hash":"...), which a string value can't contain unescaped, so a
# user agent or a detail holding the same text can't move the split; a second match raises.
_PREV_HASH_SLOT = "prev-hash-slot"
_SEQ_SLOT = -7_385_920_164_538_201_947


def _slot(text: bytes, key: bytes, value: bytes) -> tuple[int, int]:
    """Where `value` stands right after `key` in `text`, which must hold the pair exactly once."""
    marker = key + value
    if text.count(marker) != 1:
        raise ValueError(f"canonical form holds {marker!r} {text.count(marker)} times, not once")
    start = text.index(marker) + len(key)
    return start, start + len(value)
