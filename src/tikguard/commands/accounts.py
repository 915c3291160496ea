"""``tikguard tenant add|list``, ``tikguard user add|list|passwd|remove`` and
``tikguard token create|list|revoke``.

Accounts live in one tenant each (``--tenant``, default: the embedded default's
``default``); an MSP adds a tenant per customer and gives each its own admin. A token
is printed once, at creation; the store keeps only its hash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from tikguard.commands._context import Context, store_context, user_errors
from tikguard.commands._ui import JsonOut, console, fail, print_json
from tikguard.store.errors import NotFound

user_app = typer.Typer(help="People who log in to the web UI and API.", no_args_is_help=True)
token_app = typer.Typer(
    help="API tokens for scripts (Authorization: Bearer ...).", no_args_is_help=True
)

tenant_app = typer.Typer(help="Tenants: isolated customers or teams.", no_args_is_help=True)

Role = Annotated[str, typer.Option("--role", help="viewer, operator or admin.")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant name (default: the default tenant).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(tenant_app, name="tenant")
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")


def _tenant(ctx: Context, name: str | None) -> int:
    from tikguard.ops import accounts

    if name is None:
        return ctx.tenant_id
    try:
        return accounts.tenant_id(ctx.db, name)
    except NotFound:
        fail(f"tenant {name!r} does not exist", f"create it with `tikguard tenant add {name}`")


@tenant_app.command("add")
def tenant_add(
    name: Annotated[str, typer.Argument(help="Short name: lowercase letters, digits, - and _.")],
    display_name: Annotated[str, typer.Option("--display-name", help="Shown in the UI.")] = "",
) -> None:
    """Add a tenant; then give it an admin with `tikguard user add NAME --tenant ...`."""
    from tikguard.ops import accounts

    with store_context() as ctx, user_errors():
        accounts.add_tenant(ctx.db, name, display_name, actor=ctx.actor)
    console.print(f"tenant [bold]{name}[/] added", highlight=False)


@tenant_app.command("set")
def tenant_set(
    name: Annotated[str, typer.Argument(help="The tenant.")],
    networks: Annotated[
        str | None,
        typer.Option(
            "--networks",
            help="Where its routers may be: comma-separated CIDRs, or 'any' (the API and UI "
            "refuse devices elsewhere; empty: anywhere only while it is the only tenant).",
        ),
    ] = None,
    share_hosts: Annotated[
        bool | None,
        typer.Option(
            "--share-hosts/--no-share-hosts",
            help="May add a host:port another tenant already manages.",
        ),
    ] = None,
) -> None:
    """Set where a tenant's admins may point the controller (see docs/security.md)."""
    from tikguard.ops import accounts

    with store_context() as ctx, user_errors():
        now, share = accounts.set_tenant_reach(
            ctx.db, name, networks=networks, share_hosts=share_hosts, actor=ctx.actor
        )
    shown = now or "(none: anywhere only while it is the only tenant)"
    console.print(
        f"tenant [bold]{name}[/]: networks {shown}; shares hosts: {'yes' if share else 'no'}",
        highlight=False,
    )


@tenant_app.command("list")
def tenant_list() -> None:
    """Every tenant with its number of users and devices."""
    from tikguard.ops import accounts

    with store_context() as ctx, user_errors():
        rows = accounts.tenants(ctx.db)
    table = Table()
    for col in ("tenant", "display name", "users", "devices"):
        table.add_column(col)
    for name, display, users, devices in rows:
        table.add_row(name, display, str(users), str(devices))
    console.print(table)


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
    tenant: TenantOpt = None,
) -> None:
    """Add a user with a role in a tenant."""
    from tikguard.ops import accounts

    if role not in ("viewer", "operator", "admin"):
        fail(f"unknown role {role!r}", "use viewer, operator or admin")
    if password is None:
        if generate:
            password = accounts.generate_password()
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        with ctx.db.transaction() as session:
            accounts.create_user(session, tenant_id, username, password, role, actor=ctx.actor)
    console.print(f"user [bold]{username}[/] added ({role})", highlight=False)
    if generate:
        console.print(f"password (shown once): [bold]{password}[/]", highlight=False)


@user_app.command("list")
def user_list(tenant: TenantOpt = None, as_json: JsonOut = False) -> None:
    """Users of a tenant (``--json``: the API's list of users)."""
    from tikguard.ops import accounts

    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        with ctx.db.session() as session:
            users = accounts.list_users(session, tenant_id)
            if as_json:
                from tikguard.api.schemas import UserOut

                print_json([UserOut.model_validate(u, from_attributes=True) for u in users])
                return
    table = Table()
    for col in ("user", "role", "last login"):
        table.add_column(col)
    for u in users:
        table.add_row(
            u.username, u.role, f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "never"
        )
    console.print(table)


@contextlib.contextmanager
def _known_user() -> Iterator[None]:
    try:
        yield
    except NotFound as exc:
        fail(str(exc), "see `tikguard user list` (and --tenant) for the users there are")


@user_app.command("passwd")
def user_passwd(
    username: Annotated[str, typer.Argument(help="Login name.")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="Default: prompt (or --generate).", hidden=True),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Generate and print a password.")
    ] = False,
    tenant: TenantOpt = None,
) -> None:
    """Set a user's password; every web session the user had ends at once."""
    from tikguard.ops import accounts

    if password is None:
        if generate:
            password = accounts.generate_password()
        else:
            password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        with _known_user(), ctx.db.transaction() as session:
            accounts.set_password(session, tenant_id, username, password, actor=ctx.actor)
    console.print(f"password of [bold]{username}[/] changed; its sessions ended", highlight=False)
    if generate:
        console.print(f"password (shown once): [bold]{password}[/]", highlight=False)


@user_app.command("remove")
def user_remove(
    username: Annotated[str, typer.Argument(help="Login name.")],
    tenant: TenantOpt = None,
) -> None:
    """Remove a user, their web sessions and the API tokens they created."""
    from tikguard.ops import accounts

    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        with _known_user(), ctx.db.transaction() as session:
            accounts.remove_user(session, tenant_id, username, actor=ctx.actor)
    console.print(f"user [bold]{username}[/] removed", highlight=False)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for (shown in listings).")],
    role: Role = "viewer",
    days: Annotated[int | None, typer.Option("--days", help="Expire after this many days.")] = None,
    tenant: TenantOpt = None,
) -> None:
    """Create an API token and print it once."""
    from tikguard.ops import accounts

    if role not in ("viewer", "operator", "admin"):
        fail(f"unknown role {role!r}", "use viewer, operator or admin")
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        with ctx.db.transaction() as session:
            new = accounts.create_token(
                session, tenant_id, name, role, actor=ctx.actor, expires_at=expires
            )
    console.print(f"token [bold]{name}[/] ({role}); shown once, store it now:", highlight=False)
    typer.echo(new.token)


@token_app.command("list")
def token_list(tenant: TenantOpt = None, as_json: JsonOut = False) -> None:
    """API tokens of a tenant, prefixes only (``--json``: the API's list of tokens)."""
    from tikguard.ops import accounts

    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        with ctx.db.session() as session:
            tokens = accounts.list_tokens(session, tenant_id)
            if as_json:
                from tikguard.api.schemas import TokenOut

                print_json([TokenOut.model_validate(t, from_attributes=True) for t in tokens])
                return
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
    tenant: TenantOpt = None,
) -> None:
    """Revoke an API token at once."""
    from tikguard.ops import accounts

    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        with ctx.db.transaction() as session:
            accounts.revoke_token(session, tenant_id, token_id, actor=ctx.actor)
    console.print(f"token {token_id} revoked")
