"""`replywise demo seed`: fill a local instance with months of realistic usage."""
from __future__ import annotations

import time

import click

from backend.cli.context import open_runtime
from backend.governance.identity import LOCAL_TENANT
from backend.services import demo


def register(cli: click.Group) -> None:
    cli.add_command(demo_group)


@click.group("demo")
def demo_group() -> None:
    """Demo data for trying the product."""


@demo_group.command("seed")
@click.option("--days", type=click.IntRange(1, 731), default=120, show_default=True,
              help="How many days of history, ending today.")
@click.option("--users", type=click.IntRange(1, 100_000), default=300, show_default=True)
@click.option("--tenant", default=LOCAL_TENANT, show_default=True)
@click.option("--seed", "seed_value", type=int, default=7, show_default=True,
              help="Random seed: the same seed gives the same data.")
def seed(days: int, users: int, tenant: str, seed_value: int) -> None:
    """Replace the tenant's demo users with USERS people drafting for DAYS days."""
    rt = open_runtime()
    try:
        started = time.perf_counter()
        report = demo.seed(rt, tenant=tenant, days=days, users=users, seed_value=seed_value)
        took = time.perf_counter() - started
    finally:
        rt.close()
    click.echo(f"seeded tenant {report.tenant!r}: {report.users} users, {report.drafts:,} drafts, "
               f"{report.feedback:,} feedback, {report.refusals:,} refusals over {report.days} "
               f"days in {took:.1f} s\nopen /admin (replywise serve) to see it", err=True)
