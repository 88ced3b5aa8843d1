"""`replywise tenants`: enrol Google Workspace domains and list tenants."""
from __future__ import annotations

import click

from backend.cli.context import open_runtime, print_json
from backend.errors import AppError
from backend.governance.identity import Principal
from backend.services import tenant_domains


def register(cli: click.Group) -> None:
    cli.add_command(tenants)


@click.group()
def tenants() -> None:
    """Tenants and the Workspace domains whose users belong to them."""


@tenants.command("enroll-domain")
@click.argument("domain")
@click.option("--tenant", required=True, help="The tenant the domain's users belong to.")
def enroll_domain(domain: str, tenant: str) -> None:
    """Let Gmail users of DOMAIN (their Google `hd`) use Replywise as members of TENANT."""
    rt = open_runtime()
    try:
        # The operator at the terminal acts as the tenant's administrator; the audit trail
        # records the actor as the CLI.
        actor = Principal(idp="cli", tenant_id=tenant, subject="operator",
                          roles=frozenset({"tenant_admin"}))
        print_json(tenant_domains.enroll_domain(rt, actor, domain, tenant))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


@tenants.command("list")
def list_tenants() -> None:
    """Every tenant with its enrolled domains, as JSON."""
    rt = open_runtime()
    try:
        print_json(tenant_domains.list_tenants(rt))
    finally:
        rt.close()
