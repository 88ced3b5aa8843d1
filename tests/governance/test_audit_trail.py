"""The audit trail as stored: CloudTrail-like events, `replywise audit verify` against real
tampering in the database, JSON-lines export, signed checkpoints, and concurrent writers."""
from __future__ import annotations

import json
import multiprocessing
import re
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from backend.config import Settings
from backend.governance import audit_chain
from backend.governance.identity import LOCAL_IDP, Principal
from backend.services import accounts, audit, audit_review, drafting, privacy
from backend.services.runtime import build_runtime
from backend.storage.models import AuditCheckpoint, AuditEvent, AuditHead
from tests.conftest import _empty_tables, local_headers
from tests.web.drafting_support import draft_body
from tests.web.governance_support import audit_rows, me, set_roles

T = "audit-co"
UA = "ReplywiseTest/1.0 (Outlook)"
PSEUDONYM_KEY = b"test-pseudonym-key-0123456789"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
PSEUDONYM = re.compile(r"^ps_[0-9a-f]{32}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
EVENT_KEYS = set(audit.CHAIN_FIELDS) | {"occurred_at", "hash"}


def _h(user: str) -> dict[str, str]:
    return local_headers(T, user, **{"User-Agent": UA})


def _make_events(client, drafts: int = 5) -> None:
    for _ in range(drafts):
        assert client.post("/api/v1/drafts", json=draft_body(),
                           headers=_h("writer")).status_code == 200


def _verify(run_cli, *args: str, env: dict[str, str] | None = None):
    return run_cli("audit", "verify", "--tenant", T, *args, env=env)


def _row(rt, seq: int) -> AuditEvent:
    with rt.db.session(T) as session:
        return session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()


def _sql(rt, statement) -> None:
    with rt.db.engine.begin() as conn:
        conn.execute(statement)


_EVENTS = AuditEvent.__table__
_OF_T = _EVENTS.c.tenant_id == T


# --- what events hold -------------------------------------------------------------------------

def test_every_audited_action_records_a_cloudtrail_like_event(client, rt):
    client.environ_base["HTTP_USER_AGENT"] = UA  # every request, the helpers' ones included
    me(client, T, "annika-7")
    h = _h("annika-7")
    assert client.put("/api/v1/admin/policy", json={"policy": {"retention_days": 30}},
                      headers=h).status_code == 200
    draft = client.post("/api/v1/drafts", json=draft_body(), headers=h).get_json()
    assert client.post(f"/api/v1/drafts/{draft['id']}/feedback", json={"rating": 1},
                       headers=h).status_code == 201
    set_roles(client, T, "annika-7", "aud", {"auditor"})
    assert client.put("/api/v1/admin/policy", json={"policy": {}},
                      headers=_h("aud")).status_code == 403
    assert client.get("/api/v1/privacy/export", headers=h).status_code == 200
    gone = me(client, T, "leaver")["user_id"]
    assert client.post("/api/v1/privacy/erasure", json={"user_id": gone},
                       headers=h).status_code == 200
    assert client.get("/api/v1/audit/verify", headers=_h("aud")).get_json()["ok"] is True
    privacy.run_retention(rt)

    events = client.get("/api/v1/audit/events?limit=1000", headers=_h("aud")).get_json()["events"]
    by_action = {e["action"]: e for e in events}
    assert set(by_action) == {"user.create", "policy.update", "draft.create", "draft.feedback",
                              "role.grant", "role.revoke", "access.denied", "privacy.export",
                              "privacy.erasure", "audit.verify", "retention.run"}
    for event in events:
        assert set(event) == EVENT_KEYS
        assert HEX32.match(event["event_id"]) and ISO.match(event["occurred_at"])
        assert event["tenant_id"] == T and PSEUDONYM.match(event["actor"])
        assert event["result"] in {"success", "denied", "error"}
        assert isinstance(event["actor_roles"], list) and isinstance(event["details"], dict)
        if event["action"] != "retention.run":  # the only job that runs outside a request
            assert HEX32.match(event["request_id"])
            assert PSEUDONYM.match(event["client_ip"]), "client IPs are stored pseudonymised"
            assert event["user_agent"] == UA
    created = by_action["draft.create"]
    assert created["target_type"] == "draft" and created["target_id"] == draft["id"]
    assert (created["provider"], created["model"]) == ("offline", "offline")
    assert created["prompt_tokens"] == draft["usage"]["prompt_tokens"]
    assert created["completion_tokens"] == draft["usage"]["completion_tokens"]
    assert created["cost_usd"] == draft["cost_usd"] and created["pii_counts"] == draft["pii"]
    assert created["actor_roles"] == ["analyst", "drafter", "privacy_officer", "tenant_admin"]
    assert by_action["access.denied"]["result"] == "denied"
    assert by_action["access.denied"]["actor_roles"] == ["auditor"]
    assert by_action["privacy.erasure"]["target_type"] == "person"
    assert PSEUDONYM.match(by_action["privacy.erasure"]["target_id"])
    # Same person, same pseudonym; nobody's name or the loopback address appears anywhere.
    assert len({e["actor"] for e in events if e["actor_roles"] and "tenant_admin"
                in e["actor_roles"]}) == 1
    dumped = json.dumps(events)
    for identity in ("annika-7", "leaver", "127.0.0.1", '"aud"'):
        assert identity not in dumped


def test_listing_events_pages_through_the_chain_in_order(client):
    me(client, T, "admin")
    _make_events(client, drafts=3)
    set_roles(client, T, "admin", "aud", {"auditor"})
    first = client.get("/api/v1/audit/events?limit=2", headers=_h("aud")).get_json()["events"]
    after = client.get(f"/api/v1/audit/events?after_seq={first[-1]['seq']}&limit=2",
                       headers=_h("aud")).get_json()["events"]
    assert [e["seq"] for e in first + after] == [1, 2, 3, 4]
    bad = client.get("/api/v1/audit/events?limit=0", headers=_h("aud"))
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "limit"


# --- verify against tampering -----------------------------------------------------------------

@pytest.fixture
def chain(client, rt) -> int:
    """Tenant T's chain: user.create then five drafts; returns the number of events."""
    _make_events(client)
    count = len(audit_rows(rt, T))
    assert count == 6
    return count


def test_verify_passes_on_an_intact_chain(chain, run_cli):
    result = _verify(run_cli)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{T}: ok ({chain} events)\n"


@pytest.mark.parametrize("column, value", [
    ("result", "denied"), ("actor", "ps_" + "0" * 32), ("cost_usd", "9.999999"),
    ("target_id", "someone-else"), ("prompt_tokens", 1)])
def test_verify_names_an_edited_event(chain, rt, run_cli, column, value):
    edited = _row(rt, 3)
    _sql(rt, update(_EVENTS).where(_OF_T, _EVENTS.c.seq == 3).values({column: value}))
    result = _verify(run_cli)
    assert result.exit_code == 1
    assert result.stdout == f"{T}: TAMPERED at seq 3 (event {edited.event_id}): hash mismatch\n"


def test_verify_names_an_event_whose_time_was_changed(chain, rt, run_cli):
    edited = _row(rt, 2)
    _sql(rt, text("UPDATE audit_events SET occurred_at = :t WHERE tenant_id = :tenant AND seq = 2")
         .bindparams(t=edited.occurred_at.replace(year=2020), tenant=T))
    result = _verify(run_cli)
    assert result.exit_code == 1 and f"seq 2 (event {edited.event_id})" in result.stdout


def test_verify_names_the_event_after_a_deleted_one(chain, rt, run_cli):
    after = _row(rt, 4)
    _sql(rt, delete(_EVENTS).where(_OF_T, _EVENTS.c.seq == 3))
    result = _verify(run_cli)
    assert result.exit_code == 1
    assert result.stdout == f"{T}: TAMPERED at seq 4 (event {after.event_id}): sequence gap\n"


def test_verify_catches_a_deleted_newest_event_through_the_chain_head(chain, rt, run_cli):
    _sql(rt, delete(_EVENTS).where(_OF_T, _EVENTS.c.seq == chain))
    result = _verify(run_cli)
    assert result.exit_code == 1
    assert result.stdout == (f"{T}: TAMPERED at seq {chain}: "
                             f"{audit_review.EVENTS_MISSING_AT_END}\n")


def _forged(seq: int, prev_hash: str, template: AuditEvent) -> dict:
    """A plausible event with a correct hash for its place: what an intruder would insert."""
    event = {**audit.as_chain_dict(template), "event_id": "f" * 32, "seq": seq,
             "action": "role.grant", "details": {"role": "tenant_admin"},
             "prev_hash": prev_hash}
    event["hash"] = audit_chain.event_hash(prev_hash, event)
    row = {k: v for k, v in event.items() if k != "occurred_at"}
    return {**row, "occurred_at": template.occurred_at}


def test_verify_catches_an_event_inserted_in_the_middle(chain, rt, run_cli):
    before, displaced = _row(rt, 3), _row(rt, 4)
    # Make room (two steps: the (tenant, seq) uniqueness is checked row by row), then insert.
    _sql(rt, update(_EVENTS).where(_OF_T, _EVENTS.c.seq >= 4).values(seq=_EVENTS.c.seq + 1000))
    _sql(rt, update(_EVENTS).where(_OF_T, _EVENTS.c.seq >= 1000).values(seq=_EVENTS.c.seq - 999))
    _sql(rt, insert(_EVENTS).values(_forged(4, before.hash, before)))
    result = _verify(run_cli)
    assert result.exit_code == 1
    # The forgery links correctly to its predecessor; the event it pushed along cannot.
    assert result.stdout == f"{T}: TAMPERED at seq 5 (event {displaced.event_id}): hash mismatch\n"


def test_verify_catches_a_forged_event_appended_after_the_head(chain, rt, run_cli):
    last = _row(rt, chain)
    _sql(rt, insert(_EVENTS).values(_forged(chain + 1, last.hash, last)))
    result = _verify(run_cli)
    assert result.exit_code == 1
    assert result.stdout == (f"{T}: TAMPERED at seq {chain + 1} (event {'f' * 32}): "
                             f"{audit_review.EVENT_AFTER_HEAD}\n")


def test_verify_catches_two_events_swapped(chain, rt, run_cli):
    third, fourth = _row(rt, 3), _row(rt, 4)
    _sql(rt, update(_EVENTS).where(_EVENTS.c.event_id == third.event_id).values(seq=-1))
    _sql(rt, update(_EVENTS).where(_EVENTS.c.event_id == fourth.event_id).values(seq=3))
    _sql(rt, update(_EVENTS).where(_EVENTS.c.event_id == third.event_id).values(seq=4))
    result = _verify(run_cli)
    assert result.exit_code == 1
    assert result.stdout == f"{T}: TAMPERED at seq 3 (event {fourth.event_id}): hash mismatch\n"


def test_verify_of_every_tenant_still_checks_a_chain_whose_head_row_was_deleted(chain, rt,
                                                                               run_cli):
    _sql(rt, delete(AuditHead.__table__).where(AuditHead.__table__.c.tenant_id == T))
    result = run_cli("audit", "verify")
    assert result.exit_code == 1
    assert f"{T}: TAMPERED at seq {chain}" in result.stdout
    assert audit_review.HEAD_MISSING in result.stdout


def test_the_api_reports_the_same_first_bad_event(client, chain, rt):
    set_roles(client, T, "writer", "aud", {"auditor"})
    edited = _row(rt, 2)
    _sql(rt, update(_EVENTS).where(_OF_T, _EVENTS.c.seq == 2).values(result="error"))
    body = client.get("/api/v1/audit/verify", headers=_h("aud")).get_json()
    assert body == {"ok": False, "checked": 1, "first_bad": {
        "event_id": edited.event_id, "seq": 2, "problem": audit_chain.HASH_MISMATCH}}
    assert audit_rows(rt, T, "audit.verify")[-1].result == "error"


# --- export -------------------------------------------------------------------------------

def test_export_writes_json_lines_that_verify_on_their_own(chain, run_cli, tmp_path):
    out = tmp_path / "audit.jsonl"
    result = run_cli("audit", "export", "--tenant", T, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"exported {chain} events" in result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["seq"] for e in events] == list(range(1, chain + 1))
    assert all(set(e) == EVENT_KEYS for e in events)
    # An auditor can check an export with nothing but audit_chain (or the documented recipe).
    assert audit_chain.verify_chain(events).ok
    to_stdout = run_cli("audit", "export", "--tenant", T)
    assert to_stdout.stdout.splitlines() == lines


# --- signed checkpoints ---------------------------------------------------------------------

def test_signed_checkpoints_detect_a_truncated_tail_even_with_the_head_rewritten(
        make_app, run_cli):
    key = audit_chain.generate_signing_key_b64()
    app = make_app(audit_signing_key=key, audit_checkpoint_every=3)
    client, rt = app.test_client(), app.extensions["replywise"]
    _make_events(client, drafts=8)  # 9 events: checkpoints at seq 3, 6 and 9
    with rt.db.session(T) as session:
        assert list(session.scalars(select(AuditCheckpoint.seq).order_by(
            AuditCheckpoint.seq))) == [3, 6, 9]
    signed = {"REPLYWISE_AUDIT_SIGNING_KEY": key}
    assert _verify(run_cli, env=signed).stdout == f"{T}: ok (9 events)\n"

    # An intruder drops the last two events and moves the head back to match.
    seventh = _row(rt, 7)
    _sql(rt, delete(_EVENTS).where(_OF_T, _EVENTS.c.seq > 7))
    _sql(rt, update(AuditHead.__table__).where(AuditHead.__table__.c.tenant_id == T)
         .values(seq=7, hash=seventh.hash))
    assert _verify(run_cli).exit_code == 0  # without the key the chain looks whole
    result = _verify(run_cli, env=signed)
    assert result.exit_code == 1
    assert result.stdout == (f"{T}: TAMPERED at seq 8: "
                             f"{audit_chain.EVENTS_MISSING_AFTER_CHECKPOINT}\n")


def test_a_checkpoint_signed_with_another_key_is_refused(make_app, run_cli):
    key = audit_chain.generate_signing_key_b64()
    app = make_app(audit_signing_key=key, audit_checkpoint_every=2)
    _make_events(app.test_client(), drafts=3)
    other = audit_chain.generate_signing_key_b64()
    result = _verify(run_cli, env={"REPLYWISE_AUDIT_SIGNING_KEY": other})
    assert result.exit_code == 1
    assert audit_chain.BAD_CHECKPOINT_SIGNATURE in result.stdout


# --- concurrent writers ---------------------------------------------------------------------

def _draft_request() -> drafting.DraftRequest:
    from backend.web.api import parse_draft_request
    return parse_draft_request(draft_body())


def _assert_chain_whole(rt, tenant: str, expected_events: int) -> None:
    result = audit_review.verify_tenant(rt, tenant)
    assert result.ok, result.first_bad
    assert result.checked == expected_events
    with rt.db.session(tenant) as session:
        seqs = list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        head = session.get(AuditHead, tenant)
    assert seqs == list(range(1, expected_events + 1))
    assert head.seq == expected_events


def test_concurrent_writers_in_threads_keep_one_gapless_chain(rt):
    threads, per_thread = 8, 25
    request = _draft_request()
    principals = [accounts.resolve(rt, Principal(idp=LOCAL_IDP, tenant_id=T, subject=f"w{i}"))
                  for i in range(threads)]
    start, errors = threading.Barrier(threads), []

    def work(principal: Principal) -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                drafting.create_draft(rt, principal, request)
        except Exception as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    verdicts: list[audit_chain.VerifyResult] = []
    done = threading.Event()

    def verify_meanwhile() -> None:
        # An auditor verifying while drafts are written must never see a false alarm.
        while not done.is_set():
            verdicts.append(audit_review.verify_tenant(rt, T))

    workers = [threading.Thread(target=work, args=(p,)) for p in principals]
    verifier = threading.Thread(target=verify_meanwhile)
    for worker in workers:
        worker.start()
    verifier.start()
    for worker in workers:
        worker.join()
    done.set()
    verifier.join()
    assert errors == []
    assert verdicts and [v.first_bad for v in verdicts if not v.ok] == []
    _assert_chain_whole(rt, T, threads + threads * per_thread)  # user.create + drafts


def _draft_from_another_process(database_url: str, data_dir: str, subject: str, count: int,
                                start) -> None:
    """Runs in a spawned process: its own runtime, engine and pool, built from Settings."""
    rt = build_runtime(Settings(database_url=database_url, data_dir=Path(data_dir),
                                pseudonym_key=PSEUDONYM_KEY, log_level="WARNING"))
    try:
        start.wait(timeout=60)
        # Both processes meet the tenant for the first time at once: creating it races too.
        principal = accounts.resolve(rt, Principal(idp=LOCAL_IDP, tenant_id=T, subject=subject))
        for _ in range(count):
            drafting.create_draft(rt, principal, _draft_request())
    finally:
        rt.close()


def test_concurrent_writers_in_two_processes_keep_one_gapless_chain_on_postgresql(
        postgres_url, tmp_path):
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    per_process = 25
    processes = [context.Process(target=_draft_from_another_process,
                                 args=(postgres_url, str(tmp_path), f"proc{i}", per_process,
                                       start)) for i in range(2)]
    rt = build_runtime(Settings(database_url=postgres_url, data_dir=tmp_path,
                                pseudonym_key=PSEUDONYM_KEY))
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        assert [p.exitcode for p in processes] == [0, 0]
        _assert_chain_whole(rt, T, 2 + 2 * per_process)
        with rt.db.session(T) as session:
            actors = session.execute(select(AuditEvent.actor, func.count())
                                     .group_by(AuditEvent.actor)).all()
        assert sorted(n for _, n in actors) == [per_process + 1, per_process + 1]
    finally:
        _empty_tables(rt.db.engine)
        rt.close()
