"""The `replywise` command: serve, db, draft, preview, redact, users, audit, retention, privacy."""
from __future__ import annotations

import click

from backend.cli import limits_commands
from backend.cli import demo_commands
from backend.cli import knowledge_commands
from backend.cli import (drafting_commands, governance_commands, server_commands,
                         manifest_commands, tenant_commands)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Replywise: AI reply drafts inside Outlook and Gmail."""


for module in (server_commands, drafting_commands, governance_commands, tenant_commands,
               manifest_commands):
    module.register(cli)
limits_commands.register(cli)
demo_commands.register(cli)
knowledge_commands.register(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="replywise")
