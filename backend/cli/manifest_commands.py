"""`replywise manifest`: the deployment manifests for one host."""
from __future__ import annotations

from pathlib import Path

import click

from backend import manifests

_OPTION = {"base_url": "--base-url", "app_id": "--app-id", "version": "--version",
           "client_id": "--client-id"}


def register(cli: click.Group) -> None:
    cli.add_command(manifest)


@click.command()
@click.option("--base-url", required=True,
              help="Where this deployment serves Replywise, e.g. https://replywise.example.com "
                   "(https only; http:// is accepted for localhost during development).")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the files (created if missing; existing files are replaced).")
@click.option("--client-id", default=None,
              help="Entra application (client) id. Adds the single sign-on elements "
                   "(WebApplicationInfo); left out when not given.")
@click.option("--app-id", default=None,
              help="The add-in's GUID. Default: derived from --base-url, so the same host keeps "
                   "the same id across runs.")
@click.option("--version", "version", default="1.0.0.0", show_default=True,
              help="Add-in version; raise it for Outlook to pick up a changed manifest.")
def manifest(base_url: str, out_dir: Path, client_id: str | None, app_id: str | None,
             version: str) -> None:
    """Write the deployment manifests for one host (Outlook: XML and unified JSON)."""
    try:
        dep = manifests.deployment(base_url, client_id=client_id, app_id=app_id,
                                   version=version)
    except manifests.ManifestError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{_OPTION[exc.field]}'") from None
    try:
        paths = manifests.write(dep, out_dir)
    except OSError as exc:
        raise click.ClickException(f"cannot write to {out_dir}: {exc.strerror}") from None
    for path in paths:
        click.echo(str(path))
    sso = f"single sign-on for client {dep.client_id}" if dep.client_id else "no single sign-on"
    click.echo(f"add-in id {dep.app_id}, version {dep.version}, {sso}\n"
               "sideload outlook.xml (every Outlook) or outlook-app.zip (new Outlook, web); "
               "see docs/outlook.md", err=True)
    if dep.base_url.startswith("http://"):
        click.echo("warning: Outlook loads add-ins only over https://; this http:// manifest "
                   "is for local tests without Outlook", err=True)
