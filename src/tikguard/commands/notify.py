"""``tikguard notify ...``: where the tenant's notifications go, and what went.

Channels (a webhook or an SMTP mailbox) and rules (which events, which routers, to
which channel); ``test`` sends one message now; ``attempts`` shows every delivery try
with the receiver's answer. A running ``tikguard serve`` finds events and delivers them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tikguard.commands._context import store_context, user_errors
from tikguard.commands._input import read_secret, read_user_file
from tikguard.commands._ui import JsonOut, cell, console, fail, labelled, print_json

notify_app = typer.Typer(
    help="Notifications: channels (webhook, e-mail), rules, tests, delivery attempts.",
    no_args_is_help=True,
)
add_app = typer.Typer(help="Add a channel or a rule.", no_args_is_help=True)
remove_app = typer.Typer(help="Remove a channel (with its rules) or a rule.", no_args_is_help=True)
notify_app.add_typer(add_app, name="add")
notify_app.add_typer(remove_app, name="remove")

CaFile = Annotated[
    Path | None,
    typer.Option("--ca-file", help="PEM CA certificate(s) the receiver's TLS certificate is from."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")


def _ca(path: Path | None) -> str | None:
    return None if path is None else read_user_file(path, limit=64 * 1024)


@add_app.command("webhook")
def add_webhook(
    name: Annotated[str, typer.Argument(help="A name for the channel.")],
    url: Annotated[str, typer.Argument(help="The receiver's URL (stored encrypted).")],
    fmt: Annotated[
        str, typer.Option("--format", help="json (tikguard's own), slack (also Mattermost), teams.")
    ] = "json",
    secret_stdin: Annotated[
        bool,
        typer.Option(
            "--secret-stdin", help="Read the HMAC signing secret from stdin (default: generate)."
        ),
    ] = False,
    ca_file: CaFile = None,
) -> None:
    """Add a webhook; its payloads are signed (X-Tikguard-Signature, HMAC-SHA256)."""
    from tikguard.ops import notify as notify_ops

    secret = read_secret("Signing secret", True) if secret_stdin else None
    with store_context() as ctx, user_errors():
        spec = notify_ops.WebhookChannel(
            name=name,
            url=url,
            format=fmt,  # type: ignore[arg-type]  # checked by the service
            signing_secret=secret,
            ca_pem=_ca(ca_file),
        )
        added = notify_ops.add_webhook(ctx.db, ctx.settings, ctx.tenant_id, spec, actor=ctx.actor)
    shown = f"channel {added.channel.name} added: {added.channel.target}"
    console.print(shown, highlight=False, markup=False)
    if added.generated_secret:
        console.print(
            "signing secret (shown once; the receiver checks X-Tikguard-Signature with it):",
            highlight=False,
        )
        console.print(added.generated_secret, highlight=False, markup=False)


@add_app.command("email")
def add_email(
    name: Annotated[str, typer.Argument(help="A name for the channel.")],
    host: Annotated[str, typer.Option("--host", help="SMTP server.")],
    sender: Annotated[str, typer.Option("--from", help="Sender address.")],
    to: Annotated[list[str], typer.Option("--to", help="Recipient (repeat for more).")],
    port: Annotated[int, typer.Option("--port", help="SMTP port.")] = 587,
    security: Annotated[
        str, typer.Option("--security", help="starttls (default), tls (port 465) or none.")
    ] = "starttls",
    user: Annotated[str, typer.Option("--user", help="SMTP login (asks for the password).")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the SMTP password from stdin.")
    ] = False,
    ca_file: CaFile = None,
) -> None:
    """Add an e-mail channel over SMTP (the password is stored encrypted)."""
    from tikguard.ops import notify as notify_ops

    password = read_secret(f"SMTP password for {user}", password_stdin) if user else ""
    with store_context() as ctx, user_errors():
        spec = notify_ops.EmailChannel(
            name=name,
            host=host,
            sender=sender,
            to=to,
            port=port,
            security=security,  # type: ignore[arg-type]  # checked by the service
            username=user,
            password=password,
            ca_pem=_ca(ca_file),
        )
        view = notify_ops.add_email(ctx.db, ctx.settings, ctx.tenant_id, spec, actor=ctx.actor)
    console.print(f"channel {view.name} added: {view.target}", highlight=False, markup=False)


@add_app.command("rule")
def add_rule(
    name: Annotated[str, typer.Argument(help="A name for the rule.")],
    channel: Annotated[str, typer.Option("--channel", help="The channel it sends to.")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="Event kind (repeat; default: all). See `notify kinds`."),
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only routers with this tag (repeat).")
    ] = None,
    site: Annotated[
        list[str] | None, typer.Option("--site", help="Only routers at this site (repeat).")
    ] = None,
    backup_failures: Annotated[
        int, typer.Option("--backup-failures", help="backup-failing fires at N failures in a row.")
    ] = 3,
) -> None:
    """Add a rule: these events of these routers go to this channel."""
    from tikguard.ops import notify as notify_ops

    with store_context() as ctx, user_errors():
        spec = notify_ops.Rule(
            name=name,
            channel=channel,
            events=event or [],
            tags=tag or [],
            sites=site or [],
            backup_failures=backup_failures,
        )
        view = notify_ops.add_rule(ctx.db, ctx.tenant_id, spec, actor=ctx.actor)
    console.print(f"rule {view.name} added -> {view.channel}", highlight=False, markup=False)


@remove_app.command("channel")
def remove_channel(name: Annotated[str, typer.Argument(help="The channel.")]) -> None:
    """Remove a channel and the rules that send to it."""
    from tikguard.ops import notify as notify_ops

    with store_context() as ctx, user_errors():
        rules = notify_ops.remove_channel(ctx.db, ctx.tenant_id, name, actor=ctx.actor)
    console.print(f"channel {name} removed with {rules} rule(s)", highlight=False, markup=False)


@remove_app.command("rule")
def remove_rule(name: Annotated[str, typer.Argument(help="The rule.")]) -> None:
    """Remove a rule."""
    from tikguard.ops import notify as notify_ops

    with store_context() as ctx, user_errors():
        notify_ops.remove_rule(ctx.db, ctx.tenant_id, name, actor=ctx.actor)
    console.print(f"rule {name} removed", highlight=False, markup=False)


@notify_app.command("list")
def list_all(as_json: JsonOut = False) -> None:
    """The tenant's channels and rules."""
    from tikguard.ops import notify as notify_ops

    with store_context() as ctx, user_errors():
        channels = notify_ops.list_channels(ctx.db, ctx.tenant_id)
        rules = notify_ops.list_rules(ctx.db, ctx.tenant_id)
    if as_json:
        print_json(
            {"channels": [c.as_json() for c in channels], "rules": [r.as_json() for r in rules]}
        )
        return
    if not channels:
        console.print("no notification channel (add one: `tikguard notify add webhook NAME URL`)")
        return
    table = Table(title="channels")
    for col in ("name", "kind", "target", "format", "rules"):
        table.add_column(col)
    for c in channels:
        table.add_row(cell(c.name), c.kind, cell(c.target), c.format or "", str(c.rules))
    console.print(table)
    table = Table(title="rules")
    for col in ("name", "channel", "events", "tags", "sites", "backup failures"):
        table.add_column(col)
    for r in rules:
        table.add_row(
            cell(r.name),
            cell(r.channel),
            cell(", ".join(r.events) or "all"),
            cell(", ".join(r.tags) or "any"),
            cell(", ".join(r.sites) or "any"),
            str(r.backup_failures) if not r.events or "backup-failing" in r.events else "",
        )
    console.print(table)


@notify_app.command("kinds")
def kinds() -> None:
    """The event kinds a rule can name."""
    from tikguard.ops import notify as notify_ops

    table = Table()
    table.add_column("event")
    table.add_column("when")
    for kind, meaning in notify_ops.KINDS.items():
        table.add_row(kind, meaning)
    console.print(table)


@notify_app.command("test")
def test(
    name: Annotated[str, typer.Argument(help="A rule (its channel) or a channel.")],
    as_json: JsonOut = False,
) -> None:
    """Send a test message now and show the receiver's answer (exit 1 if it failed)."""
    from tikguard.ops import notify as notify_ops

    with store_context() as ctx, user_errors():
        found = notify_ops.test(ctx.db, ctx.settings, ctx.tenant_id, name, actor=ctx.actor)
    if as_json:
        print_json(found.as_json())
    else:
        style = "green" if found.ok else "bold red"
        verdict = "delivered" if found.ok else "not delivered"
        console.print(labelled(verdict, style, f"to {found.channel}: {found.status}"))
    if not found.ok:
        raise typer.Exit(1)


@notify_app.command("attempts")
def attempts(
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel.")] = None,
    event: Annotated[int | None, typer.Option("--event", help="Only this event id.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    as_json: JsonOut = False,
) -> None:
    """Every delivery try: when, to which channel, the receiver's answer."""
    from tikguard.ops import notify as notify_ops

    if not 1 <= limit <= 1000:
        fail("--limit must be between 1 and 1000")
    with store_context() as ctx, user_errors():
        rows = notify_ops.attempts(
            ctx.db, ctx.tenant_id, channel=channel, event_id=event, limit=limit
        )
    if as_json:
        print_json([r.as_json() for r in rows])
        return
    if not rows:
        console.print("no delivery attempt yet")
        return
    table = Table()
    for col in ("at", "event", "channel", "try", "result", "answer", "seconds"):
        table.add_column(col)
    for r in rows:
        result = ("ok" if r.ok else "failed") + (" (final)" if r.final and not r.ok else "")
        table.add_row(
            r.at,
            str(r.event_id),
            cell(r.channel),
            str(r.attempt),
            cell(result, "green" if r.ok else "red"),
            cell(r.status),
            f"{r.seconds:.2f}",
        )
    console.print(table)
