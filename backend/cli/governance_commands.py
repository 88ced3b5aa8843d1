"""`replywise redact`, `users`, `audit`, `retention` and `privacy`."""
from __future__ import annotations

import sys

import click

from backend.cli.context import local_principal, open_runtime, print_json, settings
from backend.errors import AppError
from backend.governance import audit_chain
from backend.governance.identity import LOCAL_TENANT, Principal
from backend.governance.pii import PiiBlocked, PolicyError, Redactor
from backend.services import accounts, audit_review, privacy, tenants
from backend.services.ropa import record_of_processing


def register(cli: click.Group) -> None:
    for command in (redact, users, audit, retention, privacy_group):
        cli.add_command(command)


def _admin(rt, tenant: str) -> Principal:
    # The operator at the terminal acts with every role the action needs; the audit trail
    # records the actor as the CLI.
    base = Principal(idp="cli", tenant_id=tenant, subject="operator")
    return base.with_roles(frozenset({"tenant_admin", "privacy_officer", "analyst", "drafter"}))


@click.command()
@click.option("--tenant", default=LOCAL_TENANT, help="Whose policy to apply.")
@click.option("--name", "names", multiple=True, help="A person's name to treat as known.")
def redact(tenant: str, names: tuple[str, ...]) -> None:
    """Read text on stdin; print the redacted text and the spans found, as JSON."""
    text = sys.stdin.read()
    rt = open_runtime()
    try:
        try:
            policy = tenants.policy_for(rt, tenant)
        except PolicyError as exc:
            raise click.ClickException(f"tenant {tenant!r} has an invalid policy: {exc}") from None
        redactor = Redactor(policy.pii, known_names=names)
        spans = redactor.spans(text)
        try:
            redacted = redactor.redact(text)
            blocked = []
        except PiiBlocked as exc:
            redacted, blocked = None, list(exc.types)
        print_json({"redacted": redacted, "blocked": blocked, "counts": redactor.counts(),
                    "spans": [{"type": s.type, "start": s.start, "end": s.end,
                               "action": s.action, "placeholder": s.placeholder,
                               "text": text[s.start:s.end]}
                              for s in spans]})
    finally:
        rt.close()


@click.group()
def users() -> None:
    """List users and grant or revoke roles."""


@users.command("list")
@click.option("--tenant", default=LOCAL_TENANT)
def users_list(tenant: str) -> None:
    """Users of a tenant with their roles."""
    rt = open_runtime()
    try:
        print_json(accounts.list_users(rt, _admin(rt, tenant)))
    finally:
        rt.close()


def _role_change(action: str, subject: str, role: str, tenant: str) -> None:
    rt = open_runtime()
    try:
        if action == "grant" and subject == "local-user" and tenant == LOCAL_TENANT:
            local_principal(rt)  # make sure the local user exists before granting to it
        user_id = accounts.find_by_subject(rt, tenant, subject)
        change = accounts.grant_role if action == "grant" else accounts.revoke_role
        roles = change(rt, _admin(rt, tenant), user_id, role)
        print_json({"user_id": user_id, "subject": subject, "roles": roles})
    except (AppError, ValueError) as exc:
        raise click.ClickException(getattr(exc, "message", str(exc))) from None
    finally:
        rt.close()


@users.command()
@click.argument("subject")
@click.argument("role")
@click.option("--tenant", default=LOCAL_TENANT)
def grant(subject: str, role: str, tenant: str) -> None:
    """Grant ROLE to the user with SUBJECT (refused if it breaks separation of duties)."""
    _role_change("grant", subject, role, tenant)


@users.command()
@click.argument("subject")
@click.argument("role")
@click.option("--tenant", default=LOCAL_TENANT)
def revoke(subject: str, role: str, tenant: str) -> None:
    """Revoke ROLE from the user with SUBJECT."""
    _role_change("revoke", subject, role, tenant)


@click.group()
def audit() -> None:
    """Verify and export the tamper-evident audit trail."""


@audit.command("verify")
@click.option("--tenant", default=None, help="One tenant (default: every tenant).")
def audit_verify(tenant: str | None) -> None:
    """Check every tenant's hash chain (and checkpoints); exit 1 naming the first bad event."""
    rt = open_runtime()
    failed = False
    try:
        for tenant_id in [tenant] if tenant else list(audit_review.tenants_with_events(rt)):
            result = audit_review.verify_tenant(rt, tenant_id)
            if result.ok:
                click.echo(f"{tenant_id}: ok ({result.checked} events)")
            else:
                failed = True
                bad = result.first_bad or {}
                event = f" (event {bad['event_id']})" if bad.get("event_id") else ""
                click.echo(f"{tenant_id}: TAMPERED at seq {bad.get('seq')}{event}: "
                           f"{bad.get('problem')}")
    finally:
        rt.close()
    if failed:
        sys.exit(1)


@audit.command("export")
@click.option("--tenant", default=LOCAL_TENANT)
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-")
def audit_export(tenant: str, out) -> None:
    """Write a tenant's audit events as JSON lines."""
    rt = open_runtime()
    try:
        count = audit_review.export_lines(rt, tenant, out)
        click.echo(f"exported {count} events", err=True)
    finally:
        rt.close()


@audit.command("keygen")
def audit_keygen() -> None:
    """Print a new Ed25519 key for REPLYWISE_AUDIT_SIGNING_KEY, and its public key."""
    private = audit_chain.generate_signing_key_b64()
    public = audit_chain.public_key_b64(audit_chain.load_signing_key(private))
    click.echo(f"REPLYWISE_AUDIT_SIGNING_KEY={private}\n# public key for auditors: {public}")


@click.group()
def retention() -> None:
    """Retention of stored content."""


@retention.command("run")
@click.option("--usage-days", type=int, default=None,
              help="Also delete usage metadata older than this many days.")
def retention_run(usage_days: int | None) -> None:
    """Delete what is older than each tenant's retention period; audited."""
    rt = open_runtime()
    try:
        print_json(privacy.run_retention(rt, usage_days))
    finally:
        rt.close()


@click.group("privacy")
def privacy_group() -> None:
    """GDPR tools."""


@privacy_group.command("ropa")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of Markdown.")
def ropa(as_json: bool) -> None:
    """Print the record of processing activities (GDPR Art. 30) for this configuration."""
    record = record_of_processing(settings())
    if as_json:
        print_json(record)
    else:
        click.echo(record["markdown"])
