"""``/import file-name=F [verbose=yes] [dry-run]`` with RouterOS's all-or-prefix semantics.

The whole file is parsed first: a syntax error (unbalanced quote, bad command name,
misplaced word) aborts before anything applies. Then lines run in order; a runtime
error (``failure: already have such entry``, ``no such item``) stops the import there,
with every earlier line applied. ``dry-run`` (7.16+) runs the file against a copy of
the configuration and throws the copy away. ``verbose=yes`` echoes each command.
"""

from __future__ import annotations

from tikguard.sim.console import ends_in_error, is_control, located, whole_block
from tikguard.sim.context import Invocation, Pending, RouterHost, Session
from tikguard.sim.errors import ConsoleError, Interrupted, syntax_error
from tikguard.sim.faults import DROP_CONNECTIONS
from tikguard.sim.files import FileStoreError
from tikguard.sim.statements import Statement, split_statements

SUCCESS = "Script file loaded and executed successfully"


def stopped_at(name: str, line: int) -> str:
    """The line RouterOS adds after a runtime error (wording unconfirmed; see docs)."""
    return f"Script Error: import of {name} stopped at line {line}"


async def run_import(router: RouterHost, inv: Invocation, session: Session) -> str:
    name = inv.value("file-name")
    bare = [w for w in inv.words if w.value not in ("dry-run", "verbose")]
    if name is None and bare:
        name = bare[0].value
    dry_run = inv.flag("dry-run")
    if dry_run and not router.profile.has_dry_run:
        word = next(w for w in inv.words if w.value == "dry-run")
        raise syntax_error("expected end of command", word.offset + 1)
    if not name:
        raise ConsoleError("missing value(s) of argument(s) file-name")
    verbose = inv.value("verbose") == "yes" or any(w.value == "verbose" for w in inv.words)
    try:
        data = router.files.read(name)
    except FileStoreError:
        return "failure: no such file"
    text = data.decode("utf-8", "surrogateescape")
    try:
        statements = split_statements(text)
    except ConsoleError as exc:
        return exc.render(1)
    problem = _check(router, statements, session)
    if problem is not None:
        return problem
    if dry_run:
        real = router.db
        router.db = real.copy()
        router.dry_run = True
        try:
            return await _execute(router, statements, session, name, verbose, dry_run=True)
        finally:
            router.db = real
            router.dry_run = False
    return await _execute(router, statements, session, name, verbose, dry_run=False)


def _check(router: RouterHost, statements: list[Statement], session: Session) -> str | None:
    """Parse every command (tracking the current menu) without running any."""
    probe = Session(session.user, session.policies, width=session.width)
    pending = Pending(statements)
    for statement in pending:
        if is_control(statement):
            try:  # its blocks run (and are checked) when it runs
                whole_block(statement, pending)
            except ConsoleError as exc:
                return located(exc, statement)
            continue
        if statement.kind != "cmd":
            continue
        try:
            words = router.console.words(statement, probe)
            if not words or words[0].raw.startswith(":"):
                continue
            router.console.parse(words, statement, probe)
        except ConsoleError as exc:
            if exc.syntax:
                return located(exc, statement)
    return None


async def _execute(
    router: RouterHost,
    statements: list[Statement],
    session: Session,
    name: str,
    verbose: bool,
    *,
    dry_run: bool,
) -> str:
    run = Session(session.user, session.policies, width=session.width, importing=True)
    out: list[str] = []
    drop_at = router.faults.drop_after_import_line
    dropped = False
    generation = router.generation
    pending = Pending(statements)
    for statement in pending:
        if statement.kind != "cmd":
            continue
        if router.generation != generation:
            return "\n".join(out)  # power lost or rebooted mid-import: the rest never runs
        if verbose:
            out.append(statement.text)
        try:
            if is_control(statement):
                result = await router.console.run_control(statement, pending, run)
            else:
                result = await router.console.run_statement(statement, run)
        except Interrupted:
            return "\n".join(out)
        except ConsoleError as exc:
            out.append(located(exc, statement))
            out.append(stopped_at(name, statement.line))
            return "\n".join(out)
        if result:
            out.append(result.rstrip("\n"))
        if is_control(statement) and ends_in_error(result):
            out.append(stopped_at(name, statement.line))
            return "\n".join(out)
        if not dry_run and not dropped and drop_at is not None and statement.line >= drop_at:
            dropped = True
            router.emit(DROP_CONNECTIONS)
    out.append(SUCCESS)
    return "\n".join(out)
