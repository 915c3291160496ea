"""``/import file-name=F [verbose=yes] [dry-run]`` with RouterOS's all-or-prefix semantics.

The whole file is parsed first: a syntax error (unbalanced quote, bad command name,
misplaced word) aborts before anything applies. Then lines run in order; a runtime
error (``failure: already have such entry``, ``no such item``) stops the import there,
with every earlier line applied. ``dry-run`` (7.16+) runs the file against a copy of
the configuration and throws the copy away. ``verbose=yes`` echoes each command.
"""

from __future__ import annotations

from tikguard.sim.console import located
from tikguard.sim.context import Invocation, Pending, RouterHost, Session
from tikguard.sim.control import CONTINUATIONS, Control, is_control, parse_control, whole_block
from tikguard.sim.errors import BlockFailed, ConsoleError, Interrupted, syntax_error
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
    """Parse every command, those inside ``{ }`` blocks too, without running any.

    The current menu is tracked as the file goes. A control statement's own syntax is
    read whole (its blocks, over as many lines as they take); the commands of a
    multi-line block are checked where they stand, those of a one-line block from its
    text (their columns counted from the statement's start).
    """
    probe = Session(session.user, session.policies, width=session.width)
    for index, statement in enumerate(statements):
        if statement.kind != "cmd" or statement.text.startswith(CONTINUATIONS):
            continue
        try:
            if is_control(statement):
                source = whole_block(statement, Pending(statements[index + 1 :]))
                _check_inline(router, parse_control(source), statement, probe)
                continue
            _check_command(router, statement, probe)
        except ConsoleError as exc:
            if exc.syntax:
                return located(exc, statement)
    return None


def _check_inline(router: RouterHost, form: Control, statement: Statement, probe: Session) -> None:
    for block in (form.body, form.other):
        if block is None or "\n" in block.text:
            continue  # a multi-line block's lines are statements of their own
        for inner in split_statements(block.text):
            if inner.kind != "cmd":
                continue
            at = statement.start + block.offset + inner.start
            shifted = Statement("cmd", inner.text, statement.logical, at)
            try:
                if is_control(shifted):
                    _check_inline(router, parse_control(inner.text), shifted, probe)
                else:
                    _check_command(router, shifted, probe)
            except ConsoleError as exc:
                if exc.column is not None:  # columns of the enclosing statement's text
                    exc.column += at - statement.start
                raise


def _check_command(router: RouterHost, statement: Statement, probe: Session) -> None:
    words = router.console.words(statement, probe)
    if not words:
        return
    if words[0].raw.startswith(":"):
        router.console.script_name(words[0])
        return
    router.console.parse(words, statement, probe)


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
        except BlockFailed as exc:
            out.append(exc.output.rstrip("\n"))
            out.append(stopped_at(name, statement.line))
            return "\n".join(out)
        if result:
            out.append(result.rstrip("\n"))
        if not dry_run and not dropped and drop_at is not None and statement.line >= drop_at:
            dropped = True
            router.emit(DROP_CONNECTIONS)
    out.append(SUCCESS)
    return "\n".join(out)
