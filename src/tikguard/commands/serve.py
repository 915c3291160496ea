"""``tikguard serve``: the API, the web UI and the workflow workers in one process.

On the embedded default nothing else is needed: SQLite files in the data directory.
The first start on an empty user table creates ``admin`` with a generated password
and prints it once (there is no default password). TLS is on when both
``TIKGUARD_TLS_CERTFILE`` and ``TIKGUARD_TLS_KEYFILE`` are set.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tikguard.commands._context import user_errors
from tikguard.commands._ui import console, fail


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8080).")] = None,
    certfile: Annotated[
        str | None, typer.Option("--tls-cert", help="PEM certificate file.")
    ] = None,
    keyfile: Annotated[str | None, typer.Option("--tls-key", help="PEM private key file.")] = None,
) -> None:
    """Serve the REST API (/api/v1), the web UI and run pushes and backups."""
    import uvicorn

    from tikguard.api.app import create_app
    from tikguard.ops import runtime
    from tikguard.ops.accounts import ensure_first_admin
    from tikguard.ops.cluster import ClusterError, first_start_lock, preflight
    from tikguard.settings import Settings
    from tikguard.store.db import Database

    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["bind_host"] = host
    if port is not None:
        overrides["bind_port"] = port
    if certfile is not None:
        overrides["tls_certfile"] = certfile
    if keyfile is not None:
        overrides["tls_keyfile"] = keyfile
    try:
        settings = Settings.from_env(**overrides)
    except ValueError as exc:
        fail(str(exc), "fix the TIKGUARD_* environment variable it names")
    if bool(settings.tls_certfile) != bool(settings.tls_keyfile):
        fail("TLS needs both a certificate and a key file", "set --tls-cert and --tls-key")
    with user_errors():
        db = Database.shared(settings)  # the one its workflows use too
        try:
            runtime.reserve(settings, _waiting_for)
        except runtime.EngineBusy as exc:
            db.dispose()
            fail(str(exc))
        try:
            preflight(settings, db)
        except ClusterError as exc:
            runtime.release_reservation()
            db.dispose()
            fail(str(exc))
        with first_start_lock(settings):  # workers starting at once: one at a time
            first = ensure_first_admin(db)
    scheme = "https" if settings.tls_certfile else "http"
    url = f"{scheme}://{settings.bind_host}:{settings.bind_port}/"
    if first is not None:
        console.print("[bold green]Created the first admin.[/] This password is shown once:")
        console.print(f"  username: [bold]{first.username}[/]")
        console.print(f"  password: [bold]{first.password}[/]", highlight=False)
        console.print(
            "Log in at the URL below, then add people with `tikguard user add` and "
            "API tokens with `tikguard token create`."
        )
    console.print(f"tikguard serving on {url} (API docs: {url}api/v1/docs)")
    app = create_app(settings, db=db, engine=True)
    try:
        uvicorn.run(
            app,
            host=settings.bind_host,
            port=settings.bind_port,
            ssl_certfile=settings.tls_certfile or None,
            ssl_keyfile=settings.tls_keyfile or None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
            # tikguard reads X-Forwarded-For itself, from TIKGUARD_TRUSTED_PROXIES only
            proxy_headers=False,
        )
    finally:
        db.dispose()


def _waiting_for(pid: int | None) -> None:
    who = f"(pid {pid}) " if pid else ""
    console.print(
        f"[yellow]another tikguard command {who}is running pushes on this data directory; "
        "the server starts when they end[/] (Ctrl-C to stop waiting)"
    )
