"""Tamper-evident audit trail core: canonical hashing, hash chains, pseudonyms, signed checkpoints.

Pure (no Flask, no SQLAlchemy): storage reads and writes plain dicts and calls in here.

Canonical form, for anyone re-implementing the verifier: every top-level field except `hash`,
serialised as `json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`
and encoded as UTF-8; `hash = sha256(prev_hash_ascii + b"\\n" + canonical).hexdigest()`.
Keys sort by code point (Python's order), not RFC 8785's UTF-16 order; field names are ASCII
so the two agree in practice. Floats are refused outright: their text form is a
canonicalisation hazard, so money travels as decimal strings.

The chain never stores identities, only keyed pseudonyms (see `Pseudonymizer`), so erasing a
person means deleting the pseudonym → person mapping and never touches, or breaks, the chain.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS_HASH = "0" * 64

# Every field an event carries; `seal_event` refuses others so nothing (content above all)
# can ride along in an ad-hoc column. `prev_hash` and `hash` are filled in by sealing.
EVENT_FIELDS = frozenset({
    "event_id", "seq", "occurred_at", "tenant_id", "actor", "actor_roles", "action",
    "target_type", "target_id", "request_id", "client_ip", "user_agent", "result",
    "provider", "model", "prompt_tokens", "completion_tokens", "cost_usd", "pii_counts",
    "details", "prev_hash", "hash",
})
RESULTS = frozenset({"success", "denied", "error"})

# Problems `verify_chain*` can report in `first_bad["problem"]`.
HASH_MISMATCH = "hash mismatch"
PREV_HASH_MISMATCH = "prev_hash mismatch"
SEQUENCE_GAP = "sequence gap"
SEQUENCE_OUT_OF_ORDER = "sequence out of order"
DUPLICATE_SEQUENCE = "duplicate sequence"
MALFORMED_EVENT = "malformed event"
CHECKPOINT_MISMATCH = "checkpoint mismatch"
EVENTS_MISSING_AFTER_CHECKPOINT = "events missing after checkpoint"
BAD_CHECKPOINT_SIGNATURE = "bad checkpoint signature"

MIN_PSEUDONYM_KEY_BYTES = 16
MAX_DETAIL_KEYS = 32
MAX_DETAIL_KEY_CHARS = 64
MAX_DETAIL_STR_CHARS = 200
MAX_DETAIL_LIST_ITEMS = 32

# Domain separation: a checkpoint signature can never be replayed as a signature over
# anything else this key might sign (or vice versa).
_CHECKPOINT_CONTEXT = b"replywise-audit-checkpoint-v1\n"
_CHECKPOINT_FIELDS = ("tenant_id", "seq", "head_hash", "created_at", "key_id")
_HEX = frozenset("0123456789abcdef")
_END = object()
_PLAIN_SCALARS = frozenset({str, int, bool})


# --- canonical form and hashing -------------------------------------------------------------

def canonical_event(event: Mapping[str, object]) -> bytes:
    """Return the deterministic UTF-8 JSON of every event field except `hash`."""
    body = {key: value for key, value in event.items() if key != "hash"}
    _check_canonical(body, "event")
    return _canonical_json(body)


def event_hash(prev_hash: str, event: Mapping[str, object]) -> str:
    """Return the SHA-256 hex that links `event` to the event whose hash is `prev_hash`."""
    # The event also carries prev_hash as a field, so it is hashed twice; harmless, and it
    # keeps the link explicit for anyone hashing by hand.
    if not _is_hash(prev_hash):
        raise ValueError("prev_hash must be 64 lowercase hex characters")
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical_event(event)).hexdigest()


def seal_event(event: Mapping[str, object], prev_hash: str) -> dict[str, object]:
    """Return a copy of a new event with `prev_hash` and `hash` set, after checking its shape."""
    sealed = {key: value for key, value in event.items() if key not in ("prev_hash", "hash")}
    unknown = sorted(set(sealed) - EVENT_FIELDS)
    missing = sorted(EVENT_FIELDS - set(sealed) - {"prev_hash", "hash"})
    if unknown or missing:
        raise ValueError(f"audit event fields wrong: unknown={unknown} missing={missing}")
    if not _is_seq(sealed["seq"], minimum=1):
        raise ValueError("seq must be an integer >= 1")
    if sealed["result"] not in RESULTS:
        raise ValueError(f"result must be one of {sorted(RESULTS)}")
    if not isinstance(sealed["details"], Mapping):
        raise ValueError("details must be a mapping")
    sealed["details"] = redact_free_text_guard(sealed["details"])
    sealed["prev_hash"] = prev_hash
    sealed["hash"] = event_hash(prev_hash, sealed)
    return sealed


def utc_timestamp(moment: datetime | None = None) -> str:
    """Format an aware datetime (default: now) as ISO 8601 UTC with microseconds and 'Z'."""
    moment = datetime.now(UTC) if moment is None else moment
    if moment.tzinfo is None:
        raise ValueError("audit timestamps need an aware datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_json(value: object) -> bytes:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("audit data must be valid Unicode (lone surrogate found)") from None


def _check_canonical(value: object, path: str) -> None:
    # json.dumps would happily write floats and non-str keys, but a float's text differs
    # across languages and versions, and {1: x} would collide with {"1": x}. (Tuples are fine:
    # they serialise exactly as the lists storage gives back.)
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return
    if isinstance(value, float):
        raise ValueError(f"{path} is a float; audit data must not contain floats "
                         "(write money as a decimal string such as '0.0123')")
    # Plain scalars skip the recursive call (and building its path): this runs per event
    # during verification of millions of events.
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path} has a non-string key of type {type(key).__name__}")
            if item is not None and type(item) not in _PLAIN_SCALARS:
                _check_canonical(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if item is not None and type(item) not in _PLAIN_SCALARS:
                _check_canonical(item, f"{path}[{index}]")
        return
    raise ValueError(f"{path} has unsupported type {type(value).__name__}")


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _is_seq(value: object, *, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


# --- pseudonyms and content guard -----------------------------------------------------------

class Pseudonymizer:
    """Keyed, deterministic pseudonyms for the people (and IPs) an audit event mentions."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, (bytes, bytearray)):
            raise TypeError("pseudonym key must be bytes")
        # Below 128 bits an attacker with the chain could brute-force the key, then test
        # guesses (every IPv4 address, a staff list) against the pseudonyms.
        if len(key) < MIN_PSEUDONYM_KEY_BYTES:
            raise ValueError(f"pseudonym key must be at least {MIN_PSEUDONYM_KEY_BYTES} bytes")
        self._key = bytes(key)

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<redacted>)"

    def pseudonym(self, kind: str, value: str) -> str:
        """Return 'ps_' + 32 hex of HMAC-SHA256(key, kind + ':' + normalised value)."""
        # A ':' in kind would let ("a:b", "c") and ("a", "b:c") collide.
        if not kind or ":" in kind:
            raise ValueError("pseudonym kind must be non-empty and contain no ':'")
        normalised = value.lower().strip()
        if not normalised:
            raise ValueError("cannot pseudonymise an empty value")
        message = f"{kind}:{normalised}".encode()
        return "ps_" + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def client_ip(self, value: str | None) -> str | None:
        """Return the pseudonym of a client IP (kind 'ip'), one per address however written."""
        # IPs are personal data, so they're stored pseudonymised too; a keyed pseudonym still
        # lets an investigator correlate "same source" and confirm a suspected address, while
        # an unkeyed hash of the 2^32 IPv4 space would be reversible in minutes.
        if value is None or not value.strip():
            return None
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            return self.pseudonym("ip", value)  # unparsable: still never store it raw
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return self.pseudonym("ip", address.compressed)


def redact_free_text_guard(details: Mapping[str, object]) -> dict[str, object]:
    """Return a copy of `details`, refusing anything but small scalar metadata."""
    # Audit events must never carry message content. This can't recognise content, so it
    # bounds the channel instead: short scalars only, no nesting. Errors name the key,
    # never the value, because the value may be exactly the content we're keeping out.
    if not isinstance(details, Mapping):
        raise ValueError("details must be a mapping")
    if len(details) > MAX_DETAIL_KEYS:
        raise ValueError(f"details may hold at most {MAX_DETAIL_KEYS} keys")
    checked: dict[str, object] = {}
    for key, value in details.items():
        if not isinstance(key, str) or not key or len(key) > MAX_DETAIL_KEY_CHARS:
            raise ValueError(f"details keys must be strings of 1-{MAX_DETAIL_KEY_CHARS} chars")
        if isinstance(value, (list, tuple)):
            if len(value) > MAX_DETAIL_LIST_ITEMS:
                raise ValueError(f"details[{key!r}] has more than {MAX_DETAIL_LIST_ITEMS} items")
            for item in value:
                _check_detail_scalar(key, item)
            checked[key] = list(value)
        else:
            _check_detail_scalar(key, value)
            checked[key] = value
    return checked


def _check_detail_scalar(key: str, value: object) -> None:
    if value is None or isinstance(value, int):  # bool is an int
        return
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_STR_CHARS:
            raise ValueError(f"details[{key!r}] is a string longer than "
                             f"{MAX_DETAIL_STR_CHARS} characters; audit events never hold content")
        return
    raise ValueError(f"details[{key!r}] has type {type(value).__name__}; only short str, int, "
                     "bool, None or lists of those are allowed")


# --- chain verification ---------------------------------------------------------------------

@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a verification: `checked` events passed before `first_bad`, if any."""

    ok: bool
    checked: int
    first_bad: dict[str, object] | None = None
    last_seq: int | None = None  # seq of the last event that passed
    head_hash: str = GENESIS_HASH  # hash of the last event that passed (or the start hash)


def verify_chain(events: Iterable[Mapping[str, object]], *, expected_first_seq: int = 1,
                 start_prev_hash: str = GENESIS_HASH) -> VerifyResult:
    """Verify events in stored order, streaming, and report the first one that is wrong."""
    return _walk(iter(events), expected_first_seq, start_prev_hash, None)


def _walk(events: Iterable[Mapping[str, object]], first_seq: int, start_prev_hash: str,
          extra_check: Callable[[Mapping[str, object]], str | None] | None) -> VerifyResult:
    # One pass, O(1) memory: only the running hash and the expected seq are kept, plus a
    # single look-ahead event when a seq jumps forward (to tell a gap from a reordering).
    # Checks go self-hash first so an edited field is blamed on the edited event itself,
    # then sequence, then the link to the previous event.
    iterator = iter(events)
    expected, prev_hash, checked, last_seq = first_seq, start_prev_hash, 0, None
    for event in iterator:
        problem = _integrity_problem(event)
        if problem is None:
            seq = cast(int, event["seq"])  # _integrity_problem checked it
            if seq > expected:
                following = next(iterator, _END)
                # The missing seq turning up later means reordering; otherwise it's gone.
                out_of_order = (isinstance(following, Mapping)
                                and isinstance(following.get("seq"), int)
                                and following["seq"] < seq)
                problem = SEQUENCE_OUT_OF_ORDER if out_of_order else SEQUENCE_GAP
            elif seq < expected:
                # Everything in [first_seq, expected) has already passed, so a seq in that
                # range repeats one; anything lower is out of this chain's order entirely.
                problem = DUPLICATE_SEQUENCE if seq >= first_seq else SEQUENCE_OUT_OF_ORDER
            elif event["prev_hash"] != prev_hash:
                problem = PREV_HASH_MISMATCH
            elif extra_check is not None:
                problem = extra_check(event)
        if problem is not None:
            return VerifyResult(False, checked, _bad(event, problem), last_seq, prev_hash)
        checked += 1
        expected += 1
        prev_hash = str(event["hash"])
        last_seq = cast(int, event["seq"])
    return VerifyResult(True, checked, None, last_seq, prev_hash)


def _integrity_problem(event: object) -> str | None:
    if not isinstance(event, Mapping):
        return MALFORMED_EVENT
    if (not _is_seq(event.get("seq"), minimum=0) or not _is_hash(event.get("prev_hash"))
            or not isinstance(event.get("hash"), str)):
        return MALFORMED_EVENT
    try:
        actual = event_hash(str(event["prev_hash"]), event)
    except ValueError:
        return MALFORMED_EVENT  # e.g. a float smuggled in: it was never hashed by us
    return None if hmac.compare_digest(actual, str(event["hash"])) else HASH_MISMATCH


def _bad(event: object, problem: str, *, seq: object = None) -> dict[str, object]:
    if isinstance(event, Mapping):
        return {"event_id": event.get("event_id"), "seq": event.get("seq"), "problem": problem}
    return {"event_id": None, "seq": seq, "problem": problem}


# --- signed checkpoints ---------------------------------------------------------------------

def key_id(public_key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Return the first 16 hex of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(_public(public_key).public_bytes_raw()).hexdigest()[:16]


def make_checkpoint(tenant_id: str, seq: int, head_hash: str, signing_key: Ed25519PrivateKey,
                    created_at: str) -> dict[str, object]:
    """Return a checkpoint signing that `tenant_id`'s chain had `head_hash` at `seq`."""
    if not _is_seq(seq, minimum=0):
        raise ValueError("checkpoint seq must be an integer >= 0")
    if not _is_hash(head_hash):
        raise ValueError("head_hash must be 64 lowercase hex characters")
    checkpoint: dict[str, object] = {"tenant_id": tenant_id, "seq": seq, "head_hash": head_hash,
                                     "created_at": created_at, "key_id": key_id(signing_key)}
    signature = signing_key.sign(_checkpoint_message(checkpoint))
    checkpoint["signature"] = base64.b64encode(signature).decode("ascii")
    return checkpoint


def verify_checkpoint(cp: Mapping[str, object],
                      public_key: Ed25519PublicKey | Ed25519PrivateKey) -> bool:
    """Return True only if `cp` is well-formed and signed by `public_key`."""
    public_key = _public(public_key)
    try:
        if cp["key_id"] != key_id(public_key) or not isinstance(cp["signature"], str):
            return False
        signature = base64.b64decode(cp["signature"], validate=True)
        public_key.verify(signature, _checkpoint_message(cp))
    except (KeyError, TypeError, ValueError, binascii.Error, InvalidSignature):
        return False
    return True


def verify_chain_with_checkpoints(
        events: Iterable[Mapping[str, object]], checkpoints: Iterable[Mapping[str, object]],
        public_key: Ed25519PublicKey | Ed25519PrivateKey, *, expected_first_seq: int = 1,
        start_prev_hash: str = GENESIS_HASH) -> VerifyResult:
    """Verify the chain and that it still reaches, and agrees with, every signed checkpoint."""
    # A bare chain can't reveal a deleted tail (or a chain rewritten from some point on);
    # a signed head hash held outside the database can. Checkpoints below the verified
    # window are skipped: the caller vouches for that range by choosing where to start.
    by_seq: dict[int, list[Mapping[str, object]]] = {}
    for cp in checkpoints:
        if not verify_checkpoint(cp, public_key):
            return VerifyResult(False, 0, _bad(None, BAD_CHECKPOINT_SIGNATURE, seq=cp.get("seq")),
                                None, start_prev_hash)
        by_seq.setdefault(cast(int, cp["seq"]), []).append(cp)
    for cp in by_seq.get(expected_first_seq - 1, []):
        if cp["head_hash"] != start_prev_hash:
            return VerifyResult(False, 0, _bad(None, CHECKPOINT_MISMATCH, seq=cp["seq"]),
                                None, start_prev_hash)

    def against_checkpoints(event: Mapping[str, object]) -> str | None:
        for cp in by_seq.get(cast(int, event["seq"]), ()):
            if cp["head_hash"] != event["hash"] or cp["tenant_id"] != event.get("tenant_id"):
                return CHECKPOINT_MISMATCH
        return None

    result = _walk(events, expected_first_seq, start_prev_hash, against_checkpoints)
    if not result.ok:
        return result
    reached = expected_first_seq - 1 if result.last_seq is None else result.last_seq
    if by_seq and max(by_seq) > reached:
        return VerifyResult(False, result.checked,
                            _bad(None, EVENTS_MISSING_AFTER_CHECKPOINT, seq=reached + 1),
                            result.last_seq, result.head_hash)
    return result


def _checkpoint_message(cp: Mapping[str, object]) -> bytes:
    body = {name: cp[name] for name in _CHECKPOINT_FIELDS}
    _check_canonical(body, "checkpoint")
    return _CHECKPOINT_CONTEXT + _canonical_json(body)


# --- keys -----------------------------------------------------------------------------------

def generate_signing_key_b64() -> str:
    """Return a new Ed25519 private key as base64 of its 32 raw bytes (for configuration)."""
    return base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode("ascii")


def load_signing_key(value: str) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PKCS8 PEM string or base64 of the 32 raw bytes."""
    return cast(Ed25519PrivateKey, _load_key(value, private=True))


def load_public_key(value: str) -> Ed25519PublicKey:
    """Load an Ed25519 public key from a SubjectPublicKeyInfo PEM or base64 of 32 raw bytes."""
    return cast(Ed25519PublicKey, _load_key(value, private=False))


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return base64 of the raw public key, for handing to auditors."""
    return base64.b64encode(_public(key).public_bytes_raw()).decode("ascii")


def _public(key: Ed25519PrivateKey | Ed25519PublicKey) -> Ed25519PublicKey:
    return key.public_key() if isinstance(key, Ed25519PrivateKey) else key


def _load_key(value: str, *, private: bool) -> Ed25519PrivateKey | Ed25519PublicKey:
    # Error messages never echo `value`: a private key is a secret.
    what = "audit signing key" if private else "audit public key"
    text = value.strip()
    if text.startswith("-----BEGIN"):
        try:
            # .env files and CI secrets often flatten a PEM's newlines into literal "\\n".
            pem = text.replace("\\n", "\n").encode("ascii")
            key = (serialization.load_pem_private_key(pem, password=None) if private
                   else serialization.load_pem_public_key(pem))
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError(f"{what}: unreadable PEM (it must be unencrypted)") from None
        if not isinstance(key, Ed25519PrivateKey if private else Ed25519PublicKey):
            raise ValueError(f"{what}: PEM holds a key that is not Ed25519")
        return key
    try:
        # Accept both base64 alphabets: keys pasted from URL-safe tools are common.
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: neither a PEM nor valid base64") from None
    if len(raw) != 32:
        raise ValueError(f"{what}: base64 must decode to exactly 32 bytes, got {len(raw)}")
    return (Ed25519PrivateKey.from_private_bytes(raw) if private
            else Ed25519PublicKey.from_public_bytes(raw))
