"""Enrolling Workspace domains as tenants: `replywise tenants enroll-domain` and `tenants list`."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backend.errors import Conflict, InvalidField
from backend.governance.identity import Principal
from backend.governance.rbac import PermissionDenied
from backend.services import tenant_domains
from backend.storage.models import AuditEvent


def _operator(tenant: str) -> Principal:
    return Principal(idp="cli", tenant_id=tenant, subject="operator",
                     roles=frozenset({"tenant_admin"}))


def test_enrolling_a_domain_maps_it_to_the_tenant_and_is_audited(run_cli, cli_env):
    result = run_cli("tenants", "enroll-domain", "Acme.Example.", "--tenant", "acme")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"domain": "acme.example", "tenant_id": "acme",
                                         "created": True}
    listed = json.loads(run_cli("tenants", "list").output)
    assert {"tenant_id": "acme", "name": "acme", "domains": ["acme.example"]} in listed
    from backend.storage.db import Database
    database = Database(cli_env["REPLYWISE_DATABASE_URL"])
    try:
        with database.session("acme") as session:
            event = session.scalars(select(AuditEvent).where(
                AuditEvent.action == "tenant.domain.enroll")).one()
            assert event.target_id == "acme.example"
    finally:
        database.dispose()


def test_a_domain_cannot_be_moved_to_another_tenant(run_cli):
    assert run_cli("tenants", "enroll-domain", "acme.example", "--tenant", "acme").exit_code == 0
    again = run_cli("tenants", "enroll-domain", "acme.example", "--tenant", "acme")
    assert again.exit_code == 0 and json.loads(again.output)["created"] is False
    taken = run_cli("tenants", "enroll-domain", "acme.example", "--tenant", "rival")
    assert taken.exit_code != 0 and "already enrolled for another tenant" in taken.output


def test_a_malformed_domain_is_refused(run_cli):
    result = run_cli("tenants", "enroll-domain", "not a domain", "--tenant", "acme")
    assert result.exit_code != 0 and "not a valid domain name" in result.output


def test_domain_lookup_is_case_insensitive_and_unknown_domains_have_no_tenant(rt):
    tenant_domains.enroll_domain(rt, _operator("acme"), "acme.example", "acme")
    assert tenant_domains.tenant_for_domain(rt, "ACME.example") == "acme"
    assert tenant_domains.tenant_for_domain(rt, "other.example") is None
    assert tenant_domains.tenant_for_domain(rt, None) is None


def test_enrolling_clears_a_cached_negative_answer(rt):
    assert tenant_domains.tenant_for_domain(rt, "late.example") is None
    tenant_domains.enroll_domain(rt, _operator("late"), "late.example", "late")
    assert tenant_domains.tenant_for_domain(rt, "late.example") == "late"


def test_enrolling_needs_an_administrator_of_that_tenant(rt):
    drafter = Principal(idp="google", tenant_id="acme", subject="x", roles=frozenset({"drafter"}))
    with pytest.raises(PermissionDenied):
        tenant_domains.enroll_domain(rt, drafter, "acme.example", "acme")
    with pytest.raises(InvalidField):
        tenant_domains.enroll_domain(rt, _operator("acme"), "acme.example", "rival")
    tenant_domains.enroll_domain(rt, _operator("acme"), "acme.example", "acme")
    with pytest.raises(Conflict):
        tenant_domains.enroll_domain(rt, _operator("rival"), "acme.example", "rival")
