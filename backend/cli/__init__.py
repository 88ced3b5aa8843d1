"""The `replywise` command: serve, db, draft, preview, redact, users, audit, retention, privacy."""
from __future__ import annotations

import click

from backend.cli import drafting_commands, governance_commands, server_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Replywise: AI reply drafts inside Outlook and Gmail."""


for module in (server_commands, drafting_commands, governance_commands):
    module.register(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="replywise")
