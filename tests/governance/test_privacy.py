"""GDPR tools: export, erasure (with an intact audit chain after it), retention, and the RoPA."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from backend.storage.models import Draft, Feedback, RoleGrant, User, utcnow
from tests.conftest import local_headers
from tests.web.drafting_support import draft_body
from tests.web.governance_support import audit_rows, me, set_roles

T = "privacy-co"
OFFICER = local_headers(T, "officer")  # the local bootstrap roles include privacy_officer


def _h(user: str) -> dict[str, str]:
    return local_headers(T, user)


def _count(rt, model, **where) -> int:
    with rt.db.session(T) as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return session.scalar(query)


@pytest.fixture
def people(client) -> dict[str, str]:
    """An officer (bootstrap roles), and a drafter-only user with two drafts and feedback."""
    ids = {"officer": me(client, T, "officer")["user_id"]}
    ids["dora"] = set_roles(client, T, "officer", "dora", {"drafter"})
    for rating in (1, -1):
        draft = client.post("/api/v1/drafts", json=draft_body(), headers=_h("dora")).get_json()
        assert client.post(f"/api/v1/drafts/{draft['id']}/feedback",
                           json={"rating": rating, "final_text": "Sent as is."},
                           headers=_h("dora")).status_code == 201
    return ids


# --- export -------------------------------------------------------------------------------

def test_a_user_exports_everything_held_about_themself(client, rt, people):
    response = client.get("/api/v1/privacy/export", headers=_h("dora"))
    assert response.status_code == 200
    data = response.get_json()
    assert data["user"]["id"] == people["dora"] and data["user"]["subject"] == "dora"
    assert data["user"]["identity_provider"] == "local" and data["user"]["roles"] == ["drafter"]
    assert len(data["drafts"]) == 2 and len(data["feedback"]) == 2
    assert all(d["text"] is None for d in data["drafts"])  # nothing kept by default
    assert all(f["final_text"] is None for f in data["feedback"])
    assert {f["rating"] for f in data["feedback"]} == {1, -1}
    # Their audit events are found through the pseudonym, which the export reveals to them...
    own = [e["action"] for e in data["audit_events"] if e["actor"] == data["audit_pseudonym"]]
    assert own == ["user.create", "draft.create", "draft.feedback", "draft.create",
                   "draft.feedback"]
    # ...and so are the events about them: here, the officer setting their roles.
    about = [(e["action"], e["details"]["role"]) for e in data["audit_events"]
             if e["actor"] != data["audit_pseudonym"]]
    assert about == [("role.revoke", r) for r in ("analyst", "auditor", "privacy_officer",
                                                    "tenant_admin")] + [("role.grant", "drafter")]
    assert all(e["target_id"] == people["dora"] for e in data["audit_events"]
               if e["actor"] != data["audit_pseudonym"])
    event = audit_rows(rt, T, "privacy.export")[-1]
    assert event.target_id == people["dora"] and event.details == {"self": True, "drafts": 2}


def test_a_privacy_officer_exports_another_users_data(client, rt, people):
    response = client.get(f"/api/v1/privacy/export?user_id={people['dora']}", headers=OFFICER)
    assert response.status_code == 200
    assert response.get_json()["user"]["subject"] == "dora"
    event = audit_rows(rt, T, "privacy.export")[-1]
    assert event.details == {"self": False, "drafts": 2}
    assert event.actor != response.get_json()["audit_pseudonym"]  # the officer acted


def test_a_drafter_cannot_export_another_user(client, rt, people):
    response = client.get(f"/api/v1/privacy/export?user_id={people['officer']}",
                          headers=_h("dora"))
    assert response.status_code == 403
    assert response.get_json()["error"]["action"] == "privacy.export_any"
    assert audit_rows(rt, T, "access.denied")[-1].details["action"] == "privacy.export_any"
    assert audit_rows(rt, T, "privacy.export") == []


def test_exporting_an_unknown_user_is_404(client, people):
    response = client.get("/api/v1/privacy/export?user_id=nobody", headers=OFFICER)
    assert response.status_code == 404


# --- erasure --------------------------------------------------------------------------------

def test_erasure_deletes_the_person_and_leaves_a_tombstone_and_a_valid_chain(client, rt, people,
                                                                             run_cli):
    dora = people["dora"]
    pseudonym = client.get("/api/v1/privacy/export",
                           headers=_h("dora")).get_json()["audit_pseudonym"]
    events_before = len(audit_rows(rt, T))
    response = client.post("/api/v1/privacy/erasure", json={"user_id": dora}, headers=OFFICER)
    assert response.status_code == 200
    assert response.get_json() == {"erased_user_id": dora, "audit_pseudonym": pseudonym,
                                   "deleted": {"feedback": 2, "drafts": 2, "role_grants": 1,
                                               "kb_documents": 0}}
    assert _count(rt, User, id=dora) == 0
    assert _count(rt, Draft, user_id=dora) == _count(rt, Feedback, user_id=dora) == 0
    assert _count(rt, RoleGrant, user_id=dora) == 0
    assert _count(rt, User, id=people["officer"]) == 1  # nobody else was touched

    tombstone = audit_rows(rt, T, "privacy.erasure")[-1]
    assert (tombstone.target_type, tombstone.target_id) == ("person", pseudonym)
    assert tombstone.details == {"feedback": 2, "drafts": 2, "role_grants": 1,
                                 "kb_documents": 0}
    # Earlier events stay (they hold a pseudonym, not the person), so the chain is whole.
    assert len(audit_rows(rt, T)) == events_before + 1
    assert "dora" not in json.dumps([e.details for e in audit_rows(rt, T)])
    verified = run_cli("audit", "verify", "--tenant", T)
    assert verified.exit_code == 0, verified.output
    assert client.get(f"/api/v1/privacy/export?user_id={dora}", headers=OFFICER).status_code == 404


def test_erasure_runs_the_registered_hooks_for_caches_and_documents(client, rt, people):
    seen = []
    rt.caches.setdefault("erasure_hooks", []).append(lambda tenant, user: seen.append((tenant,
                                                                                       user)))
    client.post("/api/v1/privacy/erasure", json={"user_id": people["dora"]}, headers=OFFICER)
    assert seen == [(T, people["dora"])]


def test_an_erased_user_who_returns_starts_from_nothing(client, people):
    client.post("/api/v1/privacy/erasure", json={"user_id": people["dora"]}, headers=OFFICER)
    again = me(client, T, "dora")
    assert again["user_id"] != people["dora"]
    export = client.get("/api/v1/privacy/export", headers=_h("dora")).get_json()
    assert export["drafts"] == [] and export["feedback"] == []


def test_only_a_privacy_officer_may_erase(client, rt, people):
    response = client.post("/api/v1/privacy/erasure", json={"user_id": people["officer"]},
                           headers=_h("dora"))
    assert response.status_code == 403
    assert response.get_json()["error"]["action"] == "privacy.erase"
    assert _count(rt, User, id=people["officer"]) == 1


def test_a_privacy_officer_cannot_erase_themself_and_the_refusal_is_audited(client, rt, people):
    response = client.post("/api/v1/privacy/erasure", json={"user_id": people["officer"]},
                           headers=OFFICER)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "self_erasure"
    assert _count(rt, User, id=people["officer"]) == 1
    event = audit_rows(rt, T, "privacy.erasure")[-1]
    assert event.result == "denied" and event.details == {"reason": "self_erasure"}


def test_erasing_an_unknown_user_is_404_and_erases_nothing(client, rt, people):
    users = _count(rt, User)
    response = client.post("/api/v1/privacy/erasure", json={"user_id": "nobody"}, headers=OFFICER)
    assert response.status_code == 404 and _count(rt, User) == users


# --- retention --------------------------------------------------------------------------------

def _backdate(rt, model, days: int, **where) -> None:
    with rt.db.session(T) as session:
        statement = update(model).values(created_at=utcnow() - timedelta(days=days))
        for column, value in where.items():
            statement = statement.where(getattr(model, column) == value)
        session.execute(statement)


def test_draft_text_is_kept_only_when_the_tenant_opts_in(client, rt, people):
    assert _count(rt, Draft) == 2 and all(
        d["text"] is None for d in client.get("/api/v1/privacy/export",
                                              headers=_h("dora")).get_json()["drafts"])
    assert client.put("/api/v1/admin/policy", headers=OFFICER, json={
        "policy": {"keep_draft_text": True, "retention_days": 7}}).status_code == 200
    draft = client.post("/api/v1/drafts", json=draft_body(), headers=_h("dora")).get_json()
    feedback = client.post(f"/api/v1/drafts/{draft['id']}/feedback", headers=_h("dora"),
                           json={"action": "inserted", "final_text": draft["text"] + " Thanks"})
    assert feedback.get_json()["edit_ratio"] is not None
    export = client.get("/api/v1/privacy/export", headers=_h("dora")).get_json()
    kept = [d for d in export["drafts"] if d["id"] == draft["id"]][0]
    assert kept["text"] == draft["text"]
    assert [f["final_text"] for f in export["feedback"] if f["draft_id"] == draft["id"]] == [
        draft["text"] + " Thanks"]


def test_retention_run_clears_text_older_than_the_tenants_period_and_is_audited(client, rt,
                                                                               people, run_cli):
    client.put("/api/v1/admin/policy", headers=OFFICER,
               json={"policy": {"keep_draft_text": True, "retention_days": 7}})
    old, new = (client.post("/api/v1/drafts", json=draft_body(), headers=_h("dora")).get_json()
                for _ in range(2))
    for draft in (old, new):
        client.post(f"/api/v1/drafts/{draft['id']}/feedback", headers=_h("dora"),
                    json={"final_text": "What I sent."})
    _backdate(rt, Draft, 8, id=old["id"])
    _backdate(rt, Feedback, 8, draft_id=old["id"])
    _backdate(rt, Draft, 6, id=new["id"])

    result = run_cli("retention", "run")
    assert result.exit_code == 0, result.output
    report = {entry["tenant_id"]: entry for entry in json.loads(result.stdout)}
    assert report[T] == {"tenant_id": T, "retention_days": 7, "draft_texts_deleted": 1,
                         "final_texts_deleted": 1, "usage_rows_deleted": 0}
    with rt.db.session(T) as session:
        assert session.get(Draft, old["id"]).text is None
        assert session.get(Draft, new["id"]).text == new["text"]
        finals = dict(session.execute(select(Feedback.draft_id, Feedback.final_text).where(
            Feedback.draft_id.in_([old["id"], new["id"]]))).all())
    assert finals == {old["id"]: None, new["id"]: "What I sent."}
    assert _count(rt, Draft) == 4  # usage metadata stays
    event = audit_rows(rt, T, "retention.run")[-1]
    assert event.details == {"retention_days": 7, "draft_texts_deleted": 1,
                             "final_texts_deleted": 1, "usage_rows_deleted": 0}
    assert run_cli("audit", "verify", "--tenant", T).exit_code == 0


def test_retention_with_usage_days_deletes_old_usage_rows_too(client, rt, people, run_cli):
    with rt.db.session(T) as session:
        oldest = session.scalars(select(Draft.id).order_by(Draft.created_at)).first()
    _backdate(rt, Draft, 400, id=oldest)
    result = run_cli("retention", "run", "--usage-days", "365")
    report = {entry["tenant_id"]: entry for entry in json.loads(result.stdout)}
    assert report[T]["usage_rows_deleted"] == 1
    assert _count(rt, Draft) == 1 and _count(rt, Feedback) == 1


# --- record of processing activities ---------------------------------------------------------

PROVIDERS = json.dumps([
    {"name": "azure-eu", "kind": "azure", "base_url": "https://eu.example.openai.azure.com",
     "deployment": "gpt4o-eu", "region": "EU", "api_version": "2024-06-01"},
    {"name": "openai-us", "kind": "openai", "model": "gpt-4o-mini", "region": "US"}])


def test_ropa_prints_markdown_naming_the_configured_providers_and_retention(run_cli):
    result = run_cli("privacy", "ropa", env={"REPLYWISE_PROVIDERS": PROVIDERS,
                                             "REPLYWISE_RETENTION_DAYS": "45"})
    assert result.exit_code == 0, result.output
    markdown = result.stdout
    assert markdown.startswith("# Record of processing activities (GDPR Art. 30)")
    assert "- azure-eu (azure, model gpt4o-eu, region EU)" in markdown
    assert "- openai-us (openai, model gpt-4o-mini, region US)" in markdown
    assert "draft text default days: 45" in markdown
    for heading in ("## Purposes", "## Categories of personal data", "## Recipients",
                    "## Retention"):
        assert heading in markdown


def test_ropa_json_lists_recipients_and_says_when_only_the_offline_drafter_runs(run_cli):
    configured = json.loads(run_cli("privacy", "ropa", "--json",
                                    env={"REPLYWISE_PROVIDERS": PROVIDERS}).stdout)
    assert [(r["name"], r["region"]) for r in configured["recipients"]] == [
        ("azure-eu", "EU"), ("openai-us", "US")]
    assert configured["retention"]["draft_text_default_days"] == 30
    offline = json.loads(run_cli("privacy", "ropa", "--json").stdout)
    assert [r["name"] for r in offline["recipients"]] == ["offline"]
