"""`replywise draft` and `replywise preview`."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from backend.cli.context import local_principal, open_runtime, print_json
from backend.drafting.mail import MailParseError, message_from_rfc822
from backend.drafting.model import DraftOptions, Length, MailThread, Tone
from backend.errors import AppError
from backend.services import drafting


def register(cli: click.Group) -> None:
    cli.add_command(draft)
    cli.add_command(preview)


def _read_request(path: Path, options: DraftOptions) -> drafting.DraftRequest:
    try:
        message = message_from_rfc822(path.read_bytes())
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None
    except MailParseError as exc:
        raise click.ClickException(f"{path} is not a readable email: {exc}") from None
    return drafting.DraftRequest(thread=MailThread(message=message), options=options,
                                 surface="cli")


_tone = click.option("--tone", type=click.Choice([t.value for t in Tone]), default="neutral")
_length = click.option("--length", type=click.Choice([x.value for x in Length]), default="medium")
_language = click.option("--language", default=None, help="ISO 639-1 code; default: the message's.")
_instructions = click.option("--instructions", default="", help="Extra guidance for this draft.")


@click.command()
@click.argument("eml", type=click.Path(dir_okay=False, path_type=Path))
@_tone
@_length
@_language
@_instructions
@click.option("--stream", is_flag=True, help="Print the draft as it is written.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
def draft(eml: Path, tone: str, length: str, language: str | None, instructions: str,
          stream: bool, as_json: bool) -> None:
    """Draft a reply to the message in EML (an RFC 822 file)."""
    options = DraftOptions(tone=Tone(tone), length=Length(length), language=language,
                           instructions=instructions)
    rt = open_runtime()
    try:
        principal = local_principal(rt)
        result = None
        for event in drafting.stream_draft(rt, principal, _read_request(eml, options)):
            if isinstance(event, drafting.Delta) and stream and not as_json:
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, drafting.Restart) and stream and not as_json:
                sys.stdout.write("\n[the provider's stream broke; starting again]\n")
            elif isinstance(event, drafting.Done):
                result = event.result
        assert result is not None
        if as_json:
            from backend.web.api import serialise_draft
            print_json(serialise_draft(result, "local"))
        elif stream:
            sys.stdout.write("\n")
        else:
            sys.stdout.write(result.text + "\n")
        if result.notice and not as_json:
            click.echo(f"\nnote: {result.notice}", err=True)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()


@click.command()
@click.argument("eml", type=click.Path(dir_okay=False, path_type=Path))
@_tone
@_length
@_language
@_instructions
def preview(eml: Path, tone: str, length: str, language: str | None, instructions: str) -> None:
    """Print, as JSON, exactly what would leave for the provider (after redaction)."""
    options = DraftOptions(tone=Tone(tone), length=Length(length), language=language,
                           instructions=instructions)
    rt = open_runtime()
    try:
        principal = local_principal(rt)
        context, prepared = drafting.prepare(rt, principal, _read_request(eml, options))
        print_json({
            "latest_message": context.latest,
            "quoted_history": context.quoted_history,
            "signature": context.signature,
            "language": prepared.language,
            "pii": prepared.pii_counts,
            "providers": [p.name for p in prepared.providers] or ["offline"],
            "prompt_messages": [{"role": m.role, "content": m.content}
                                for m in prepared.request.messages],
        })
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        rt.close()
