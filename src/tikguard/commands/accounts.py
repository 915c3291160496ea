"""``tikguard user add|list`` and ``tikguard token create|list|revoke``.

Accounts of the embedded default's tenant. A token is printed once, at creation; the
store keeps only its hash.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from tikguard.commands._context import store_context, user_errors
from tikguard.commands._ui import console, fail
from tikguard.ops import accounts

user_app = typer.Typer(help="People who log in to the web UI and API.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens for scripts (Authorization: Bearer ...).", no_args_is_help=True
)

Role = Annotated[str, typer.Option("--role", help="viewer, operator or admin.")]


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Role = "viewer",
    password: Annotated[
        str | None,
        typer.Option("--password", help="Default: prompt (or --generate).", hidden=True),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate and print a password.")
    ] = False,
) -> None:
    """Add a user with a role in the default tenant."""
    if role not in ("viewer", "operator", "admin"):
        fail(f"unknown role {role!r}", "use viewer, operator or admin")
    if password is None:
        if generate:
            password = accounts.generate_password()
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with store_context() as ctx, user_errors(), ctx.db.transaction() as session:
        accounts.create_user(session, ctx.tenant_id, username, password, role, actor="cli")
    console.print(f"user [bold]{username}[/] added ({role})", highlight=False)
    if generate:
        console.print(f"password (shown once): [bold]{password}[/]", highlight=False)


@user_app.command("list")
def user_list() -> None:
    """Users of the default tenant."""
    with store_context() as ctx, user_errors(), ctx.db.session() as session:
        users = accounts.list_users(session, ctx.tenant_id)
    table = Table()
    for col in ("user", "role", "last login"):
        table.add_column(col)
    for u in users:
        table.add_row(
            u.username, u.role, f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
        )
    console.print(table)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for (shown in listings).")],
    role: Role = "viewer",
    days: Annotated[int | None, typer.Option("--days", help="Expire after this many days.")] = None,
) -> None:
    """Create an API token and print it once."""
    if role not in ("viewer", "operator", "admin"):
        fail(f"unknown role {role!r}", "use viewer, operator or admin")
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with store_context() as ctx, user_errors(), ctx.db.transaction() as session:
        new = accounts.create_token(
            session, ctx.tenant_id, name, role, actor="cli", expires_at=expires
        )
    console.print(f"token [bold]{name}[/] ({role}); shown once, store it now:", highlight=False)
    typer.echo(new.token)


@token_app.command("list")
def token_list() -> None:
    """API tokens of the default tenant (prefixes only)."""
    with store_context() as ctx, user_errors(), ctx.db.session() as session:
        tokens = accounts.list_tokens(session, ctx.tenant_id)
    table = Table()
    for col in ("id", "name", "prefix", "role", "expires", "state"):
        table.add_column(col)
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.prefix + "…",
            t.role,
            f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never",
            "revoked" if t.revoked_at else "active",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (see `token list`).")],
) -> None:
    """Revoke an API token at once."""
    with store_context() as ctx, user_errors(), ctx.db.transaction() as session:
        accounts.revoke_token(session, ctx.tenant_id, token_id, actor="cli")
    console.print(f"token {token_id} revoked")
