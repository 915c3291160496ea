"""``tikguard config``: work with RouterOS export files offline (normalise, diff, patch)."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from tikguard.commands._input import read_user_file
from tikguard.commands._ui import console, err_console, fail, labelled
from tikguard.routeros.errors import ParseError
from tikguard.routeros.model import Config
from tikguard.routeros.parse import parse
from tikguard.routeros.risk import RiskTag
from tikguard.routeros.secrets import split_secrets

config_app = typer.Typer(
    name="config",
    help="Work with RouterOS export files: normalise, diff and patch.",
    no_args_is_help=True,
)

#: Exit code of ``config patch`` when part of the change cannot be expressed as a patch.
EXIT_INCOMPLETE = 2


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")


def read_export(path: Path) -> str:
    """An export file's text (``-`` reads standard input), as :mod:`tikguard.routeros.lexer`
    expects it: bytes that are not UTF-8 survive as surrogate escapes."""
    return read_user_file(path, keep_invalid=True)


def _source(path: Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def parse_text(text: str, path: Path) -> Config:
    """Parse export text read from ``path``, turning a ParseError into a clear CLI error."""
    try:
        return parse(text, source=_source(path))
    except ParseError as exc:
        fail(exc.describe(), "is this the output of RouterOS /export?")


def load_config(path: Path) -> Config:
    """Parse an export file, turning every problem into a clear CLI error."""
    return parse_text(read_export(path), path)


def _write(text: str) -> None:
    """Write text to stdout byte-exactly (undecodable input bytes go out unchanged)."""
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()


@config_app.command("normalise")
def normalise_command(
    file: Annotated[
        Path, typer.Argument(help="An /export file, or - for standard input.", show_default=False)
    ],
    reformat: Annotated[
        bool,
        typer.Option(
            "--reformat",
            help="Print the parsed configuration re-serialised (RouterOS layout) instead.",
        ),
    ] = False,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact",
            help="Print the compact form: what RouterOS's compact export prints for this"
            " configuration (a verbose export's defaults and !key markers left out).",
        ),
    ] = False,
) -> None:
    """Print FILE normalised for versioning.

    Line endings, colour codes, trailing spaces, the volatile date line and transient
    status comments go; everything else stays as RouterOS printed it. The input is
    parsed too, so a malformed export fails here with its file, line and column.
    """
    from tikguard.routeros.compact import compact_form
    from tikguard.routeros.normalise import normalise
    from tikguard.routeros.serialise import serialise

    text = read_export(file)
    config = parse_text(text, file)
    if compact:
        _write(serialise(compact_form(config), include_date=False))
        return
    _write(serialise(config, include_date=False) if reformat else normalise(text))


def _pair(old: Path, new: Path, show_sensitive: bool) -> tuple[Config, Config]:
    """Both configs, secrets replaced by placeholders unless asked to show them.

    A fresh tagging key per run makes equal secrets look equal within this comparison
    without letting the placeholders be checked against guesses elsewhere.
    """
    a, b = load_config(old), load_config(new)
    if show_sensitive:
        return a, b
    key = secrets.token_bytes(32)
    return split_secrets(a, key=key)[0], split_secrets(b, key=key)[0]


OldArg = Annotated[Path, typer.Argument(help="The running (old) export.", show_default=False)]
NewArg = Annotated[Path, typer.Argument(help="The target (new) export.", show_default=False)]


@config_app.command("diff")
def diff_command(
    old: OldArg,
    new: NewArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Show what changes from OLD to NEW, item by item, with management-access risks."""
    from tikguard.routeros.diff import diff
    from tikguard.routeros.risk import assess

    a, b = _pair(old, new, show_sensitive=False)
    change = diff(a, b)
    risks = assess(a, b, change)
    if as_json:
        doc = change.to_json()
        doc["risk"] = [r.as_json() for r in risks]
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    _print_risks(risks)
    console.print(change.to_text(), end="", markup=False, highlight=False, soft_wrap=True)


@config_app.command("patch")
def patch_command(
    old: OldArg,
    new: NewArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print script and gaps as JSON.")] = False,
    show_sensitive: Annotated[
        bool,
        typer.Option("--show-sensitive", help="Write secret values into the script."),
    ] = False,
) -> None:
    """Print the RouterOS script that turns OLD into NEW.

    Exits with code 2 when part of the change cannot be expressed safely as a patch
    (each such change is listed); a push then replaces the whole configuration.
    """
    from tikguard.routeros.patch import make_patch
    from tikguard.routeros.risk import assess

    a, b = _pair(old, new, show_sensitive)
    patch = make_patch(a, b)
    if as_json:
        doc = patch.as_json()
        doc["risk"] = [r.as_json() for r in assess(a, b)]
        typer.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        if not patch.ok:
            # Whoever saves this output must not mistake it for the whole change.
            typer.echo(
                f"# INCOMPLETE: {len(patch.unsupported)} change(s) cannot be expressed as a "
                "patch (listed on stderr); push a full replace instead"
            )
        typer.echo(patch.script, nl=False)
        if patch.empty and patch.ok:
            err_console.print("no differences: the patch is empty", highlight=False)
        for gap in patch.unsupported:
            err_console.print(
                labelled("not expressible:", "yellow", gap), highlight=False, soft_wrap=True
            )
    if not patch.ok:
        raise typer.Exit(EXIT_INCOMPLETE)


def _print_risks(risks: list[RiskTag]) -> None:
    for risk in risks:
        console.print(labelled(f"risk {risk.tag}:", "bold yellow", risk.title), highlight=False)
        for item in risk.items[:10]:
            console.print(f"    {item}", markup=False, highlight=False, soft_wrap=True)
        if len(risk.items) > 10:
            console.print(f"    ... and {len(risk.items) - 10} more", highlight=False)
    if risks:
        console.print()
