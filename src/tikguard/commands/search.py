"""``tikguard search QUERY``: which routers have what, across the fleet's stored configs.

Exits as grep(1) does: 0 when a router matches, 1 when none does, 2 for a bad query.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from tikguard.commands._context import store_context, user_errors
from tikguard.commands._ui import JsonOut, cell, console, print_json


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    query: Annotated[
        str,
        typer.Argument(
            help="'/ip service name=telnet disabled=no', '/ip dns servers~8\\.8\\.8\\.8', or a"
            " regex over the commands ('re:...' or anything not starting with '/')."
        ),
    ],
    regex: Annotated[
        bool, typer.Option("--regex", "-e", help="The whole QUERY is a regular expression.")
    ] = False,
    history: Annotated[
        bool, typer.Option("--history", help="Search every stored version, not only the newest.")
    ] = False,
    tag: Annotated[str | None, typer.Option("--tag", help="Only routers with this tag.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only routers at this site.")] = None,
    max_lines: Annotated[
        int, typer.Option("--max-lines", min=1, help="Lines shown per router.")
    ] = 50,
    as_json: JsonOut = False,
) -> None:
    """Search the routers' stored configurations; results grouped by router."""
    from tikguard.ops import search as search_ops

    with store_context() as ctx, user_errors(code=2):
        result = search_ops.search(
            ctx.db,
            ctx.tenant_id,
            query,
            regex=regex,
            history=history,
            tag=tag,
            site=site,
            max_lines=max_lines,
        )
    if as_json:
        from tikguard.api.schemas import SearchOut

        print_json(SearchOut.model_validate(result, from_attributes=True).model_dump(mode="json"))
    else:
        for router in result.routers:
            head = Text.assemble(
                (router.device, "bold"),
                f"  version {router.version}  ",
                (f"{router.count} line{'s' if router.count != 1 else ''}", "dim"),
            )
            console.print(head, soft_wrap=True)
            for match in router.lines:
                console.print(Text("  ").append(cell(match.line)), soft_wrap=True)
            if router.count > len(router.lines):
                console.print(cell(f"  ... {router.count - len(router.lines)} more", "dim"))
        routers = len({r.device for r in result.routers})
        console.print(
            cell(
                f"{routers} of {result.searched} routers match {result.query}"
                f" ({result.lines} line{'s' if result.lines != 1 else ''}"
                f"{', every version' if history else ''})",
                "dim",
            ),
            soft_wrap=True,
        )
    if not result.routers:
        raise typer.Exit(1)
