"""`replywise limits`: show and set rate limits and token budgets."""
from __future__ import annotations

import click

from backend.cli.context import open_runtime, print_json
from backend.errors import AppError
from backend.governance.identity import LOCAL_TENANT, Principal
from backend.governance.limits import LIMITS
from backend.services import accounts, limits


def register(cli: click.Group) -> None:
    cli.add_command(limits_group)


def _admin(tenant: str) -> Principal:
    # The operator at the terminal acts as the tenant's administrator; the audit trail records
    # the actor as the CLI.
    return Principal(idp="cli", tenant_id=tenant, subject="operator",
                     roles=frozenset({"tenant_admin"}))


@click.group("limits")
def limits_group() -> None:
    """Requests per minute and token budgets per user, team and tenant."""


@limits_group.command("show")
@click.option("--tenant", default=LOCAL_TENANT)
def show(tenant: str) -> None:
    """The tenant's rules and its usage in the current windows, as JSON."""
    rt = open_runtime()
    try:
        print_json(limits.read_limits(rt, _admin(tenant)))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


@limits_group.command("set")
@click.argument("limit", type=click.Choice(list(LIMITS)))
@click.argument("value", required=False, type=click.IntRange(min=0))
@click.option("--tenant", default=LOCAL_TENANT)
@click.option("--user", "user_subject", default=None,
              help="Override for the user with this subject (user_* limits).")
@click.option("--user-id", default=None, help="Override for this user id (user_* limits).")
@click.option("--team", default=None, help="Override for this team (team_* limits).")
@click.option("--clear", is_flag=True, help="Remove the rule instead (no cap).")
def set_(limit: str, value: int | None, tenant: str, user_subject: str | None,
         user_id: str | None, team: str | None, clear: bool) -> None:
    """Set LIMIT to VALUE (e.g. `replywise limits set user_rpm 10`), or --clear it.

    Without --user/--user-id/--team the rule is the default for every user (or team).
    """
    if (value is None) != clear:
        raise click.UsageError("give a VALUE, or --clear to remove the rule")
    rt = open_runtime()
    try:
        if user_subject:
            user_id = accounts.find_by_subject(rt, tenant, user_subject)
        print_json(limits.set_limit(rt, _admin(tenant), limit, None if clear else value,
                                    user_id=user_id, team=team))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()
