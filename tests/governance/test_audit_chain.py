"""Behaviour of the tamper-evident audit chain core (hashing, verification, checkpoints, keys)."""
from __future__ import annotations

import base64
import copy
import hashlib
import tracemalloc
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.governance.audit_chain import (
    GENESIS_HASH,
    Pseudonymizer,
    canonical_event,
    event_hash,
    generate_signing_key_b64,
    key_id,
    load_public_key,
    load_signing_key,
    make_checkpoint,
    public_key_b64,
    redact_free_text_guard,
    seal_event,
    utc_timestamp,
    verify_chain,
    verify_chain_with_checkpoints,
    verify_checkpoint,
)
from backend.governance.audit_sealing import _PREV_HASH_SLOT, _SEQ_SLOT, canonical_parts

PSEUDONYM_KEY = b"k" * 32
CREATED_AT = "2025-03-01T12:00:00.000000Z"


def new_event(seq: int, **overrides: object) -> dict[str, object]:
    """An unsealed event with every field set to something realistic."""
    event: dict[str, object] = {
        "event_id": f"00000000-0000-4000-8000-{seq:012d}",
        "seq": seq,
        "occurred_at": f"2025-03-01T12:00:{seq % 60:02d}.123456Z",
        "tenant_id": "tenant-a",
        "actor": "ps_0123456789abcdef0123456789abcdef",
        "actor_roles": ["drafter"],
        "action": "draft.create",
        "target_type": "message",
        "target_id": f"msg-{seq}",
        "request_id": f"req-{seq}",
        "client_ip": "ps_fedcba9876543210fedcba9876543210",
        "user_agent": "Outlook/16.0",
        "result": "success",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "prompt_tokens": 120 + seq,
        "completion_tokens": 80,
        "cost_usd": "0.000123",
        "pii_counts": {"email": 2, "phone": 1},
        "details": {"tone": "formal", "surface": "outlook", "retries": 0},
    }
    event.update(overrides)
    return event


def build_chain(count: int, *, start_seq: int = 1, prev_hash: str = GENESIS_HASH,
                **overrides: object) -> list[dict[str, object]]:
    chain = []
    for seq in range(start_seq, start_seq + count):
        sealed = seal_event(new_event(seq, **overrides), prev_hash)
        chain.append(sealed)
        prev_hash = str(sealed["hash"])
    return chain


def reseal(events: list[dict[str, object]]) -> list[dict[str, object]]:
    """Recompute each event's own hash (keeping its prev_hash), as a forger without keys would."""
    return [{**event, "hash": event_hash(str(event["prev_hash"]), event)} for event in events]


def tampered(field: str, value: object) -> object:
    if field in ("prev_hash", "hash"):
        assert isinstance(value, str)
        return value[:-1] + ("0" if value[-1] != "0" else "1")  # still well-formed hex
    if value is None or isinstance(value, str):
        return (value or "") + "x"
    if isinstance(value, int):
        return value + 1
    if isinstance(value, list):
        return [*value, "admin"]
    if isinstance(value, dict):
        return {**value, "extra": 1}
    raise AssertionError(f"no tampering rule for {field}")


@pytest.fixture
def chain() -> list[dict[str, object]]:
    return build_chain(6)


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# --- canonical form and hashing -------------------------------------------------------------

def test_canonical_form_is_sorted_compact_utf8_without_the_hash() -> None:
    event = {"hash": "ignored", "b": None, "a": [1, True], "é": "ü"}
    assert canonical_event(event) == '{"a":[1,true],"b":null,"é":"ü"}'.encode()


def test_event_hash_is_sha256_of_prev_hash_newline_and_canonical_form() -> None:
    # Pinned so the documented recipe (and any external auditor's port of it) stays true.
    event = {"seq": 1, "prev_hash": GENESIS_HASH, "cost_usd": "0.01"}
    by_hand = (GENESIS_HASH.encode() + b"\n"
               + b'{"cost_usd":"0.01","prev_hash":"' + GENESIS_HASH.encode() + b'","seq":1}')
    assert event_hash(GENESIS_HASH, event) == hashlib.sha256(by_hand).hexdigest() == (
        "a9bfc790cc2328d7d4018a94644caed32eb6a065075a03b5ba34cbadda602c14")


def _unplaced(event: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in event.items() if k not in ("seq", "prev_hash", "hash")}


TRICKY = "é 漢字 🙂 \"quoted\" back\\slash '; DROP TABLE audit_events; -- \"prev_hash\":\"x\""


@pytest.mark.parametrize("seq", [1, 9, 10, 12345678901234])
def test_canonical_parts_join_around_any_seq_and_prev_hash_into_the_canonical_form(seq):
    # What the database does when it seals an event: it fills in the head it has locked.
    event = new_event(seq, user_agent=TRICKY, model="漢-model", details={"status": TRICKY[:40]})
    prev_hash = hashlib.sha256(str(seq).encode()).hexdigest()
    a, b, c = canonical_parts(_unplaced(event))
    joined = a + prev_hash.encode() + b + str(seq).encode() + c
    assert joined == canonical_event({**event, "prev_hash": prev_hash})
    assert hashlib.sha256(prev_hash.encode() + b"\n" + joined).hexdigest() == event_hash(
        prev_hash, {**event, "prev_hash": prev_hash})


def test_canonical_parts_are_not_moved_by_text_that_looks_like_their_slots() -> None:
    lookalike = f'"prev_hash":"{_PREV_HASH_SLOT}","seq":{_SEQ_SLOT}'
    event = new_event(3, user_agent=lookalike, details={"note": _PREV_HASH_SLOT})
    a, b, c = canonical_parts(_unplaced(event))
    assert a + GENESIS_HASH.encode() + b + b"3" + c == canonical_event(
        {**event, "prev_hash": GENESIS_HASH})


def test_canonical_parts_refuse_a_second_slot_an_event_that_is_placed_or_a_float() -> None:
    with pytest.raises(ValueError, match="2 times, not once"):
        canonical_parts(_unplaced(new_event(1, details={"seq": _SEQ_SLOT})))
    with pytest.raises(ValueError, match="without \\['hash', 'prev_hash', 'seq'\\]"):
        canonical_parts({**new_event(1), "prev_hash": GENESIS_HASH, "hash": "x"})
    with pytest.raises(ValueError, match="cost_usd is a float"):
        canonical_parts(_unplaced(new_event(1, cost_usd=0.5)))


def test_float_in_event_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cost_usd is a float.*decimal string"):
        canonical_event(new_event(1, cost_usd=0.000123))
    with pytest.raises(ValueError, match=r"details\.ratio is a float"):
        canonical_event(new_event(1, details={"ratio": 0.5}))


def test_non_string_keys_and_unknown_types_are_rejected() -> None:
    with pytest.raises(ValueError, match="non-string key"):
        canonical_event(new_event(1, pii_counts={1: 2}))
    with pytest.raises(ValueError, match="unsupported type bytes"):
        canonical_event(new_event(1, target_id=b"raw"))


def test_sealing_refuses_unknown_or_missing_fields() -> None:
    with pytest.raises(ValueError, match="unknown=\\['body'\\]"):
        seal_event(new_event(1, body="Dear Anna, ..."), GENESIS_HASH)
    incomplete = new_event(1)
    del incomplete["actor"]
    with pytest.raises(ValueError, match="missing=\\['actor'\\]"):
        seal_event(incomplete, GENESIS_HASH)


def test_sealing_refuses_message_content_in_details() -> None:
    with pytest.raises(ValueError, match="never hold content"):
        seal_event(new_event(1, details={"note": "Hello " * 100}), GENESIS_HASH)


def test_utc_timestamp_has_microseconds_and_z() -> None:
    stamp = utc_timestamp()
    assert stamp.endswith("Z") and len(stamp) == len("2025-03-01T12:00:00.000000Z")


# --- verify_chain ---------------------------------------------------------------------------

def test_correct_chain_verifies(chain: list[dict[str, object]]) -> None:
    result = verify_chain(chain)
    assert (result.ok, result.checked, result.first_bad) == (True, 6, None)
    assert (result.last_seq, result.head_hash) == (6, chain[-1]["hash"])


def test_empty_chain_verifies() -> None:
    assert verify_chain([]).ok


def test_chain_can_be_verified_from_a_known_point() -> None:
    chain = build_chain(6)
    result = verify_chain(chain[3:], expected_first_seq=4, start_prev_hash=str(chain[2]["hash"]))
    assert result.ok and result.checked == 3


def test_event_from_before_the_verified_window_is_out_of_order() -> None:
    chain = build_chain(6)
    events = [chain[1], *chain[3:]]
    result = verify_chain(events, expected_first_seq=4, start_prev_hash=str(chain[2]["hash"]))
    assert result.first_bad == {"event_id": chain[1]["event_id"], "seq": 2,
                                "problem": "sequence out of order"}


@pytest.mark.parametrize("field", sorted(new_event(1)) + ["prev_hash", "hash"])
def test_editing_any_field_of_any_event_is_detected_at_that_event(field: str) -> None:
    for index in range(6):
        events = build_chain(6)
        events[index][field] = tampered(field, events[index][field])
        result = verify_chain(events)
        assert not result.ok
        assert result.checked == index
        assert result.first_bad == {"event_id": events[index]["event_id"],
                                    "seq": events[index]["seq"], "problem": "hash mismatch"}


def test_deleting_a_middle_event_is_detected_at_the_event_after_it(chain) -> None:
    del chain[2]
    result = verify_chain(chain)
    assert result.first_bad == {"event_id": chain[2]["event_id"], "seq": 4,
                                "problem": "sequence gap"}
    assert result.checked == 2


def test_deleting_and_renumbering_is_detected_as_a_broken_link(chain) -> None:
    del chain[2]
    renumbered = reseal([{**event, "seq": position}
                         for position, event in enumerate(chain, start=1)])
    result = verify_chain(renumbered)
    assert result.first_bad == {"event_id": renumbered[2]["event_id"], "seq": 3,
                                "problem": "prev_hash mismatch"}


def test_inserting_a_forged_event_is_detected(chain) -> None:
    # The strongest forger without the chain's history rewritten: a well-formed event that
    # links correctly to event 3. It can't be told from a real one, but the real event 4
    # that follows it now repeats a sequence number.
    forged = seal_event(new_event(4, action="admin.grant_role"), str(chain[2]["hash"]))
    chain.insert(3, forged)
    result = verify_chain(chain)
    assert result.checked == 4
    assert result.first_bad == {"event_id": chain[4]["event_id"], "seq": 4,
                                "problem": "duplicate sequence"}


def test_inserting_a_forged_event_and_renumbering_is_detected_as_a_broken_link(chain) -> None:
    forged = seal_event(new_event(4, action="admin.grant_role"), str(chain[2]["hash"]))
    rest = reseal([{**event, "seq": int(event["seq"]) + 1} for event in chain[3:]])
    result = verify_chain([*chain[:3], forged, *rest])
    assert result.first_bad == {"event_id": rest[0]["event_id"], "seq": 5,
                                "problem": "prev_hash mismatch"}


def test_swapping_two_events_is_detected_as_out_of_order(chain) -> None:
    chain[2], chain[3] = chain[3], chain[2]
    result = verify_chain(chain)
    assert result.first_bad == {"event_id": chain[2]["event_id"], "seq": 4,
                                "problem": "sequence out of order"}


def test_stored_order_differing_from_seq_is_detected_even_at_the_tail(chain) -> None:
    chain[-2], chain[-1] = chain[-1], chain[-2]
    result = verify_chain(chain)
    assert result.first_bad is not None
    assert (result.first_bad["seq"], result.first_bad["problem"]) == (6, "sequence out of order")


def test_replayed_copy_of_an_event_is_a_duplicate_sequence(chain) -> None:
    chain.insert(3, copy.deepcopy(chain[2]))
    result = verify_chain(chain)
    assert result.first_bad == {"event_id": chain[2]["event_id"], "seq": 3,
                                "problem": "duplicate sequence"}


def test_float_smuggled_into_a_stored_event_is_reported_not_raised(chain) -> None:
    chain[1]["cost_usd"] = 0.1
    result = verify_chain(chain)
    assert result.first_bad == {"event_id": chain[1]["event_id"], "seq": 2,
                                "problem": "malformed event"}


def test_truncating_the_tail_is_detected_only_with_a_checkpoint(chain, signing_key) -> None:
    checkpoint = make_checkpoint("tenant-a", 6, str(chain[-1]["hash"]), signing_key, CREATED_AT)
    truncated = chain[:4]
    assert verify_chain(truncated).ok  # a bare chain can't see a missing tail
    result = verify_chain_with_checkpoints(truncated, [checkpoint], signing_key.public_key())
    assert not result.ok and result.checked == 4
    assert result.first_bad == {"event_id": None, "seq": 5,
                                "problem": "events missing after checkpoint"}


def test_chain_matching_its_checkpoints_verifies(chain, signing_key) -> None:
    checkpoints = [make_checkpoint("tenant-a", seq, head, signing_key, CREATED_AT)
                   for seq, head in [(0, GENESIS_HASH), (3, str(chain[2]["hash"])),
                                     (6, str(chain[5]["hash"]))]]
    result = verify_chain_with_checkpoints(chain, checkpoints, signing_key.public_key())
    assert result.ok and result.checked == 6


def test_rewriting_the_chain_after_a_checkpoint_is_a_checkpoint_mismatch(chain, signing_key):
    checkpoint = make_checkpoint("tenant-a", 5, str(chain[4]["hash"]), signing_key, CREATED_AT)
    rewritten = build_chain(6, actor="ps_ffffffffffffffffffffffffffffffff")
    assert verify_chain(rewritten).ok  # internally consistent forgery
    result = verify_chain_with_checkpoints(rewritten, [checkpoint], signing_key.public_key())
    assert result.first_bad == {"event_id": rewritten[4]["event_id"], "seq": 5,
                                "problem": "checkpoint mismatch"}


def test_checkpoint_at_the_start_of_the_window_must_match_the_start_hash(chain, signing_key):
    checkpoint = make_checkpoint("tenant-a", 3, str(chain[2]["hash"]), signing_key, CREATED_AT)
    public_key = signing_key.public_key()
    assert verify_chain_with_checkpoints(chain[3:], [checkpoint], public_key,
                                         expected_first_seq=4,
                                         start_prev_hash=str(chain[2]["hash"])).ok
    result = verify_chain_with_checkpoints(chain[3:], [checkpoint], public_key,
                                           expected_first_seq=4,
                                           start_prev_hash=str(chain[1]["hash"]))
    assert result.first_bad == {"event_id": None, "seq": 3, "problem": "checkpoint mismatch"}


def test_checkpoint_round_trips(chain, signing_key) -> None:
    checkpoint = make_checkpoint("tenant-a", 6, str(chain[-1]["hash"]), signing_key, CREATED_AT)
    assert set(checkpoint) == {"tenant_id", "seq", "head_hash", "created_at", "key_id",
                               "signature"}
    assert checkpoint["key_id"] == key_id(signing_key.public_key())
    assert len(str(checkpoint["key_id"])) == 16
    assert verify_checkpoint(checkpoint, signing_key.public_key())


@pytest.mark.parametrize("field, value", [("seq", 4), ("head_hash", GENESIS_HASH),
                                          ("tenant_id", "tenant-b"), ("created_at", "x")])
def test_edited_checkpoint_fails_its_signature(chain, signing_key, field, value) -> None:
    checkpoint = make_checkpoint("tenant-a", 6, str(chain[-1]["hash"]), signing_key, CREATED_AT)
    checkpoint[field] = value
    assert not verify_checkpoint(checkpoint, signing_key.public_key())


def test_forged_checkpoint_signature_is_detected(chain, signing_key) -> None:
    # The attacker truncates the chain and signs a matching checkpoint with their own key
    # but claims the real key id.
    truncated = chain[:4]
    forged = make_checkpoint("tenant-a", 4, str(truncated[-1]["hash"]),
                             Ed25519PrivateKey.generate(), CREATED_AT)
    forged["key_id"] = key_id(signing_key)
    assert not verify_checkpoint(forged, signing_key.public_key())
    result = verify_chain_with_checkpoints(truncated, [forged], signing_key.public_key())
    assert result.first_bad == {"event_id": None, "seq": 4,
                                "problem": "bad checkpoint signature"}


@pytest.mark.parametrize("signature", ["", "not base64!", base64.b64encode(b"x" * 64).decode()])
def test_garbage_checkpoint_signature_is_rejected(chain, signing_key, signature) -> None:
    checkpoint = make_checkpoint("tenant-a", 6, str(chain[-1]["hash"]), signing_key, CREATED_AT)
    checkpoint["signature"] = signature
    assert not verify_checkpoint(checkpoint, signing_key.public_key())


# --- streaming ------------------------------------------------------------------------------

def test_verify_streams_without_materialising_the_events() -> None:
    count = 100_000

    def event(seq: int, prev_hash: str) -> dict[str, object]:
        return {"event_id": f"e{seq}", "seq": seq, "tenant_id": "t", "action": "draft.create",
                "prev_hash": prev_hash}

    # Hashes are worked out before tracing starts (tracemalloc makes hashing slow); the
    # generator then builds each event only when the verifier asks for it.
    hashes = [GENESIS_HASH]
    for seq in range(1, count + 1):
        hashes.append(event_hash(hashes[-1], event(seq, hashes[-1])))

    def events() -> Iterator[dict[str, object]]:
        for seq in range(1, count + 1):
            yield {**event(seq, hashes[seq - 1]), "hash": hashes[seq]}

    tracemalloc.start()
    try:
        result = verify_chain(events())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok and result.checked == count
    # 100,000 of these dicts held at once would take over 50 MB; a streaming pass, a few KB.
    assert peak < 1024 * 1024


# --- pseudonyms -----------------------------------------------------------------------------

def test_pseudonym_is_stable_and_normalised() -> None:
    pseudonymizer = Pseudonymizer(PSEUDONYM_KEY)
    first = pseudonymizer.pseudonym("user", "Anna.Berg@Example.com")
    assert first == pseudonymizer.pseudonym("user", "  anna.berg@example.com ")
    assert first == Pseudonymizer(PSEUDONYM_KEY).pseudonym("user", "anna.berg@example.com")
    assert first.startswith("ps_") and len(first) == 3 + 32


def test_pseudonym_depends_on_key_and_kind() -> None:
    value = "anna.berg@example.com"
    assert (Pseudonymizer(PSEUDONYM_KEY).pseudonym("user", value)
            != Pseudonymizer(b"q" * 32).pseudonym("user", value))
    assert (Pseudonymizer(PSEUDONYM_KEY).pseudonym("user", value)
            != Pseudonymizer(PSEUDONYM_KEY).pseudonym("contact", value))


def test_pseudonym_never_contains_the_raw_value() -> None:
    pseudonymizer = Pseudonymizer(PSEUDONYM_KEY)
    for value in ("anna", "anna.berg@example.com", "203.0.113.7"):
        output = pseudonymizer.pseudonym("user", value)
        assert value not in output and "anna" not in output
    assert "Pseudonymizer(key=<redacted>)" == repr(pseudonymizer)


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 15])
def test_short_pseudonym_key_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymizer(key)


def test_ambiguous_or_empty_pseudonym_inputs_are_refused() -> None:
    pseudonymizer = Pseudonymizer(PSEUDONYM_KEY)
    with pytest.raises(ValueError):
        pseudonymizer.pseudonym("a:b", "c")
    with pytest.raises(ValueError):
        pseudonymizer.pseudonym("user", "   ")


def test_client_ip_pseudonym_is_the_same_however_the_address_is_written() -> None:
    pseudonymizer = Pseudonymizer(PSEUDONYM_KEY)
    assert (pseudonymizer.client_ip("2001:DB8:0:0::1")
            == pseudonymizer.client_ip("2001:db8::1")
            == pseudonymizer.pseudonym("ip", "2001:db8::1"))
    assert pseudonymizer.client_ip("::ffff:203.0.113.7") == pseudonymizer.client_ip("203.0.113.7")
    assert pseudonymizer.client_ip(None) is None
    assert "203.0.113" not in str(pseudonymizer.client_ip("203.0.113.7"))


# --- details guard --------------------------------------------------------------------------

def test_details_guard_accepts_small_scalar_metadata() -> None:
    details = {"tone": "formal", "retries": 2, "streamed": True, "fallback": None,
               "providers_tried": ("openai", "offline")}
    assert redact_free_text_guard(details) == {**details, "providers_tried": ["openai", "offline"]}


@pytest.mark.parametrize("details, message", [
    ({"body": "x" * 201}, "longer than 200"),
    ({"thread": {"subject": "hi"}}, "type dict"),
    ({"ratio": 0.5}, "type float"),
    ({"words": ["w"] * 33}, "more than 32 items"),
    ({"nested": [["a"]]}, "type list"),
    ({f"k{i}": i for i in range(33)}, "at most 32 keys"),
    ({"k" * 65: 1}, "keys must be strings"),
])
def test_details_guard_refuses_anything_that_could_carry_content(details, message) -> None:
    with pytest.raises(ValueError, match=message):
        redact_free_text_guard(details)


def test_details_guard_error_never_echoes_the_value() -> None:
    secret = "Dear Anna, your diagnosis is " + "x" * 200
    with pytest.raises(ValueError) as caught:
        redact_free_text_guard({"body": secret})
    assert "Anna" not in str(caught.value)


# --- keys -----------------------------------------------------------------------------------

def test_signing_key_loads_from_base64_of_raw_bytes() -> None:
    encoded = generate_signing_key_b64()
    assert len(base64.b64decode(encoded)) == 32
    key = load_signing_key(encoded)
    assert base64.b64encode(key.private_bytes_raw()).decode() == encoded
    urlsafe = base64.urlsafe_b64encode(key.private_bytes_raw()).decode()
    assert load_signing_key(urlsafe).private_bytes_raw() == key.private_bytes_raw()


def test_signing_key_loads_from_pkcs8_pem_even_with_flattened_newlines(signing_key) -> None:
    pem = signing_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    for text in (pem, pem.replace("\n", "\\n")):
        assert load_signing_key(text).private_bytes_raw() == signing_key.private_bytes_raw()


GARBAGE_PEM = "-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----"


@pytest.mark.parametrize("value", ["", "not a key", base64.b64encode(b"x" * 31).decode(),
                                   GARBAGE_PEM])
def test_bad_signing_key_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ValueError) as caught:
        load_signing_key(value)
    assert not value or value not in str(caught.value)


def test_non_ed25519_pem_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(ValueError, match="not Ed25519"):
        load_signing_key(pem)


def test_public_key_loads_from_base64_and_pem_for_auditors(chain, signing_key) -> None:
    checkpoint = make_checkpoint("tenant-a", 6, str(chain[-1]["hash"]), signing_key, CREATED_AT)
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for text in (public_key_b64(signing_key), pem):
        assert verify_checkpoint(checkpoint, load_public_key(text))
