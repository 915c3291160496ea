"""The RouterOS console language, as scripts, exports and tikguard use it.

A :class:`~tikguard.sim.context.Session` is one console (an SSH shell, an exec channel,
a script run): its current menu, variables and print numbering. :class:`Console`
parses statements into ``(menu path, verb, selector, properties, words)`` and runs
them against the router:
generic menu verbs through :mod:`tikguard.sim.engine`, special commands
(``/system backup save``, ``/import``, ...) through the shared table in :mod:`system`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tikguard.routeros import schema as schema_mod
from tikguard.routeros.commands import GENERIC_COMMANDS
from tikguard.routeros.errors import ParseError
from tikguard.routeros.lexer import Word, split_words
from tikguard.routeros.quoting import quote
from tikguard.routeros.values import parse_duration
from tikguard.sim import engine, names
from tikguard.sim.configdb import Value
from tikguard.sim.context import Handler, Invocation, Pending, RouterHost, Session
from tikguard.sim.control import Block, Control, is_control, parse_control, whole_block
from tikguard.sim.errors import (
    NOT_ENOUGH_PERMISSIONS,
    BlockFailed,
    ConsoleError,
    Interrupted,
    syntax_error,
)
from tikguard.sim.expressions import evaluate, is_true, parse_expression
from tikguard.sim.findexpr import compile_where
from tikguard.sim.statements import Statement, split_statements

#: Verbs that change the configuration (need the ``write`` policy).
WRITE_VERBS = frozenset({"add", "set", "remove", "move", "unset", "enable", "disable", "comment"})

#: Properties naming one item: a list of ids from ``find`` names its first.
_ONE_ITEM = frozenset({"place-before", "destination", "copy-from", "numbers"})

_VAR = re.compile(r"\$(?:\"([^\"]*)\"|([A-Za-z_][A-Za-z0-9_\-]*))")


class Console:
    """Parses and runs console statements for one router."""

    __slots__ = ("handlers", "loop_limit", "router", "tree")

    def __init__(self, router: RouterHost, handlers: Mapping[tuple[str, str], Handler]) -> None:
        self.router = router
        #: Special commands; a table shared by all routers (no per-router closures).
        self.handlers = handlers
        #: RouterOS's names, plus the special commands' (shared by all routers too).
        self.tree = names.tree_with(frozenset(handlers))
        #: The most iterations one ``:for``/``:while``/``:do`` may run.
        self.loop_limit = LOOP_LIMIT

    # -- running text ----------------------------------------------------------------
    async def run(self, text: str, session: Session) -> str:
        """Run console text; RouterOS errors end the run and become the output's last line."""
        return (await self.run_checked(text, session))[0]

    async def run_checked(self, text: str, session: Session) -> tuple[str, bool]:
        """The output of running ``text``, and whether an error ended it."""
        out: list[str] = []
        try:
            statements = split_statements(text)
        except ConsoleError as exc:
            return exc.render(1) + "\n", True
        depth: list[dict[str, str]] = []
        generation = self.router.generation
        pending = Pending(statements)
        failed = False
        for statement in pending:
            if self.router.generation != generation:
                break  # power lost or rebooted: nothing more runs
            if statement.kind == "open":
                depth.append(dict(session.variables))
                continue
            if statement.kind == "close":
                if depth:
                    session.variables = depth.pop()
                continue
            try:
                if is_control(statement):
                    result = await self.run_control(statement, pending, session)
                else:
                    result = await self.run_statement(statement, session)
            except ConsoleError as exc:
                out.append(located(exc, statement))
                failed = True
                break
            except BlockFailed as exc:
                out.append(exc.output.rstrip("\n"))
                failed = True
                break
            except Interrupted:
                break
            if result:
                out.append(result.rstrip("\n"))
        return ("\n".join(out) + "\n" if out else ""), failed

    async def run_statement(self, statement: Statement, session: Session) -> str:
        text, words = self.prepared(statement, session)
        if not words:
            return ""
        if words[0].kind == "word" and words[0].raw.startswith(":"):
            return await self._script_command(words, statement, session, text)
        inv = self.parse(words, statement, session, text)
        if inv is None:
            return ""
        return await self.invoke(inv, session)

    def words(self, statement: Statement, session: Session) -> list[Word]:
        return self.prepared(statement, session)[1]

    def prepared(self, statement: Statement, session: Session) -> tuple[str, list[Word]]:
        """The statement's text after ``$var`` substitution, and its words."""
        text = statement.text
        if "$" in text:
            known = self.router.globals
            text = substitute(text, {**known, **session.variables} if known else session.variables)
        try:
            return text, split_words(text)
        except ParseError as exc:
            raise syntax_error("syntax error", exc.column or 1) from None

    # -- parsing -------------------------------------------------------------------
    def parse(
        self, words: list[Word], statement: Statement, session: Session, text: str | None = None
    ) -> Invocation | None:
        """Resolve path and verb; a bare path changes the session's menu (returns None)."""
        segs = session.path[1:].split() if session.path else []
        verb: str | None = None
        verb_column = 1
        i = 0
        while i < len(words) and verb is None:
            w = words[i]
            if w.kind != "word":
                break
            raw = w.raw
            offset = w.offset
            if raw.startswith("/"):
                if i > 0:
                    break
                segs = []
            parts = raw.split("/")
            if not self.router.profile.slash_paths and "/" in raw[1:]:
                # RouterOS 6 knows only the space-separated spelling.
                name = raw.lstrip("/")
                raise syntax_error(f"bad command name {name}", offset + len(raw) - len(name) + 1)
            pos = offset
            for n, part in enumerate(parts):
                column = pos + 1
                pos += len(part) + 1
                if not part:
                    continue
                if verb is not None:
                    raise syntax_error("expected end of command", column)
                if part == "..":
                    if segs:
                        segs.pop()
                    continue
                kind, name = names.resolve_name(self.tree, _path(segs), part, column)
                if kind == "command":
                    verb = name
                    verb_column = column
                    if n != len(parts) - 1:
                        raise syntax_error("expected end of command", pos + 1)
                    continue
                segs.append(name)
            i += 1
        path = _path(segs)
        if verb is None:
            if i < len(words):
                w = words[i]
                raise syntax_error("expected command name", w.offset + 1)
            session.path = path
            return None
        source = statement.text if text is None else text
        return self._arguments(path, verb, words[i:], statement, verb_column, source)

    def _arguments(
        self,
        path: str,
        verb: str,
        rest: list[Word],
        statement: Statement,
        verb_column: int,
        text: str,
    ) -> Invocation:
        selection = engine.Selection(column=verb_column)
        values: dict[str, Value] = {}
        bare: list[Word] = []
        where: list[Word] = []
        pending: list[tuple[str, str]] = []
        i = 0
        if rest and rest[0].kind == "open":
            close = _matching(rest, 0)
            inner = rest[1:close]
            if not inner:
                raise syntax_error("syntax error", rest[0].offset + 1)
            if inner[0].kind == "word" and inner[0].raw in ("find", "/find"):
                selection.predicate = compile_where(self._query(path, inner[1:]))
            else:  # ``remove [ :pick [ find dynamic=no ] 0 ]``: evaluated when run
                pending.append(("", text[rest[0].offset + 1 : rest[close].offset]))
            i = close + 1
        prefix = ""
        while i < len(rest):
            w = rest[i]
            nxt = rest[i + 1] if i + 1 < len(rest) else None
            if (
                w.kind == "prop"
                and w.key is not None
                and w.raw.endswith("=")
                and nxt is not None
                and nxt.kind == "open"
                and nxt.offset == w.offset + len(w.raw)
            ):
                # ``place-before=[ find comment=a ]``: a substitution, evaluated when run.
                close = _matching(rest, i + 1)
                pending.append((w.key, text[nxt.offset + 1 : rest[close].offset]))
                i = close + 1
                continue
            if w.kind == "prop" and w.key is not None:
                key = w.key
                if key.startswith(".") and len(key) > 1:
                    if not prefix:
                        raise syntax_error("expected end of command", w.offset + 1)
                    key = prefix + key  # 7.x shorthand: ``local.address=... .role=ibgp``
                if verb == "find":
                    key = names.resolve_property(self.tree, path, key)
                else:
                    key = names.resolve_argument(self.tree, path, verb, key, w.offset + 1)
                if "." in key[1:]:
                    prefix = key[: key.rindex(".")]
                values[key] = w.value or ""
            elif w.kind == "unset" and w.key is not None:
                key = names.resolve_argument(self.tree, path, verb, w.key, w.offset + 1)
                values[key] = None
            elif w.kind == "word" and w.raw == "where":
                where = self._query(path, rest[i + 1 :])
                break
            elif w.kind in ("open", "close"):
                raise syntax_error("syntax error", w.offset + 1)
            else:
                bare.append(w)
            i += 1
        if verb in (
            "set",
            "remove",
            "enable",
            "disable",
            "unset",
            "get",
            "comment",
            "move",
            "edit",
        ):
            if selection.predicate is None and bare:
                # The first bare word names the item(s) (``set ether1``, ``set 0``, ``*1A``).
                first = bare.pop(0)
                selection.refs.append(first.value or "")
            for key in ("numbers",):
                if key in values and values[key] is not None:
                    selection.refs.append(values.pop(key) or "")
        bare = self._flags(path, verb, bare)
        if verb in ("add", "set"):
            _check_arguments(path, verb, bare)
        return Invocation(
            path, verb, selection, values, bare, statement, verb_column, where, pending
        )

    def _query(self, path: str, words: list[Word]) -> list[Word]:
        """Property names in a query spelled out (``find comm=x`` -> ``comment``)."""
        return [
            w._replace(key=names.resolve_property(self.tree, path, w.key))
            if w.kind == "prop" and w.key
            else w
            for w in words
        ]

    def _flags(self, path: str, verb: str, bare: list[Word]) -> list[Word]:
        """Bare words naming arguments, spelled out (``print det`` -> ``detail``).

        ``print`` and ``export`` take nothing else: any other word there is an error.
        Other commands keep a word that names no argument as a value (a file name).
        """
        out: list[Word] = []
        for w in bare:
            name = (
                names.resolve_flag(self.tree, path, verb, w.value or "")
                if w.kind == "word"
                else None
            )
            if name is not None:
                out.append(w._replace(value=name))
                continue
            if verb in ("print", "export") and w.value not in names.LEGACY_PRINT_WORDS:
                raise syntax_error("expected end of command", w.offset + 1)
            out.append(w)
        return out

    # -- running -------------------------------------------------------------------
    async def resolve_pending(self, inv: Invocation, session: Session) -> None:
        """Evaluate ``[ ... ]`` substitutions in the command's own menu."""
        if not inv.pending:
            return
        inner_session = Session(session.user, session.policies, path=inv.path, width=session.width)
        inner_session.variables = session.variables
        for key, text in inv.pending:
            inner = Statement("cmd", text.strip(), inv.statement.logical, inv.statement.start)
            value = await self.evaluate(inner, inner_session)
            if key:
                # A list of ids names its first item where one item is expected.
                inv.values[key] = value.split(";")[0] if key in _ONE_ITEM else value
            else:
                refs = [v for v in value.split(";") if v]
                inv.selection.refs.extend(refs or ["*FFFFFFFF"])  # nothing found: no such item
        inv.pending = []

    async def invoke(self, inv: Invocation, session: Session) -> str:
        await self.resolve_pending(inv, session)
        handler = self.handlers.get((inv.path, inv.verb))
        if handler is not None:
            return await handler(self.router, inv, session)
        if inv.verb not in GENERIC_COMMANDS or not (inv.path or inv.verb == "export"):
            # RouterOS has it, the simulator does not: say so rather than do nothing.
            raise ConsoleError(f"failure: {_command_text(inv)} is not simulated")
        if inv.verb in WRITE_VERBS:
            require(session, "write")
        else:
            require(session, "read")
        return await self.router.generic(inv, session)

    async def _script_command(
        self, words: list[Word], statement: Statement, session: Session, text: str
    ) -> str:
        name = self.script_name(words[0])
        args = words[1:]
        if name == "put":
            # An empty value still prints its (empty) line.
            return await self._value(args, statement, session, text) or "\n"
        if name == "pick":
            return await self._pick(args, statement, session, text)
        if name == "delay":
            seconds = 0.0
            for w in args:
                raw = w.value if w.kind == "word" or w.key == "delay-time" else None
                if raw:
                    seconds = parse_duration(raw) if not raw.isdigit() else float(raw)
            await self.router.delay(seconds)
            return ""
        if name in ("local", "global", "set"):
            if not args:
                raise syntax_error("syntax error", words[0].offset + len(words[0].raw) + 2)
            first = args[0]
            if first.kind == "prop" and first.key:
                var, value = first.key, first.value or ""
            else:
                var = first.value or ""
                rest = args[1:]
                value = await self._value(rest, statement, session, text) if rest else ""
            session.variables[var] = value
            if name == "global" or (name == "set" and var in self.router.globals):
                # Globals live in the router's environment until it reboots.
                self.router.globals[var] = value
            return ""
        if name == "len":  # an array's element count (a find's ids), a string's length
            value = await self._value(args, statement, session, text)
            array = ";" in value or _IDS.fullmatch(value) is not None
            return str(len(_elements(value)) if array else len(value))
        if name == "log":
            message = " ".join(w.value or "" for w in args[1:] if w.kind == "word")
            message = message or next((w.value or "" for w in args if w.key == "message"), "")
            self.router.log(message, topic=(args[0].value or "info") if args else "info")
            return ""
        if name == "error":  # ends the run (or goes to ``on-error``) with its message
            raise ConsoleError(await self._value(args, statement, session, text))
        raise ConsoleError(f"failure: :{name} is not simulated")

    def script_name(self, word: Word) -> str:
        """The ``:command`` a word names, resolved as RouterOS does (``:pu`` is ``:put``)."""
        # Root menus count too: ``:log info x`` is ``/log info x``.
        return names.resolve_name(self.tree, "", word.raw[1:], word.offset + 2)[1]

    # -- control flow and expressions (sim/control.py, sim/expressions.py) ------------
    async def run_control(self, first: Statement, pending: Pending, session: Session) -> str:
        """Run a control statement, taking its block's statements from ``pending``.

        Raises :class:`BlockFailed` when one of its blocks ends in an error."""
        return await self._control(whole_block(first, pending), first, session)

    async def _control(self, source: str, statement: Statement, session: Session) -> str:
        form = parse_control(source)
        kind = form.kind
        if kind == "if":
            assert form.condition is not None
            truth = await self._truth(form.condition, statement, session)
            chosen = form.body if truth else form.other
            return await self._block(chosen, session) if chosen is not None else ""
        if kind in ("for", "foreach"):
            return await self._loop(form, statement, session)
        if kind == "do" and form.other is not None:  # ``:do {...} on-error={...}``
            out, failed = await self.run_checked(form.body.text, session)
            if not failed:
                return out
            kept = out.rstrip("\n").split("\n")[:-1]  # the error is handled, not printed
            return "".join(f"{line}\n" for line in kept) + await self._block(form.other, session)
        out_parts: list[str] = []
        generation = self.router.generation
        for _ in range(self.loop_limit):  # ``:while (c) do={...}``, ``:do {...} [while=(c)]``
            if kind == "while" and not await self._truth(form.condition or "", statement, session):
                return "".join(out_parts)
            out_parts.append(await self._block(form.body, session))
            if self.router.generation != generation:
                raise Interrupted
            if kind == "do" and (
                form.condition is None or not await self._truth(form.condition, statement, session)
            ):
                return "".join(out_parts)
        raise self._runaway()

    def _runaway(self) -> ConsoleError:
        return ConsoleError(f"failure: loop ran {self.loop_limit} times (the simulator's limit)")

    async def _loop(self, form: Control, statement: Statement, session: Session) -> str:
        """``:foreach v in=X`` over X's elements; ``:for v from=A to=B [step=S]``."""
        out: list[str] = []
        if form.kind == "foreach":
            values = _elements(await self._expr(form.options["in"], statement, session))
        else:
            first = _integer(await self._expr(form.options["from"], statement, session))
            last = _integer(await self._expr(form.options["to"], statement, session))
            step_text = form.options.get("step")
            default = 1 if first <= last else -1
            step = (
                _integer(await self._expr(step_text, statement, session)) if step_text else default
            )
            if step == 0 or (last - first) * step < 0:
                return ""
            span = range(first, last + (1 if step > 0 else -1), step)
            if len(span) > self.loop_limit:
                raise self._runaway()
            values = [str(v) for v in span]
        for value in values:
            session.variables[form.variable] = value
            out.append(await self._block(form.body, session))
        return "".join(out)

    async def _block(self, block: Block, session: Session) -> str:
        out, failed = await self.run_checked(block.text, session)
        if failed:
            raise BlockFailed(out)
        return out

    async def _truth(self, text: str, statement: Statement, session: Session) -> bool:
        return is_true(await self._expr(f"({text})", statement, session))

    async def _expr(self, text: str, statement: Statement, session: Session) -> str:
        """The value of an expression (``$var``, ``[ command ]``, ``($a + 1)``, words)."""
        known = {**self.router.globals, **session.variables}

        async def command(inner: str) -> str:
            sub = Statement("cmd", inner.strip(), statement.logical, statement.start)
            return await self.evaluate(sub, session)

        node = parse_expression(text.strip())
        return await evaluate(node, lambda name: known.get(name, ""), command)

    async def _value(
        self, args: list[Word], statement: Statement, session: Session, text: str
    ) -> str:
        """The value of an expression: words, ``( ... )`` or a ``[ command ]``."""
        if args and args[0].kind == "word" and args[0].raw.startswith("("):
            return await self._expr(text[args[0].offset :], statement, session)
        if args and args[0].kind == "open":
            close = _matching(args, 0)
            inner_text = text[args[0].offset + 1 : args[close].offset]
            inner = Statement("cmd", inner_text.strip(), statement.logical, statement.start)
            return await self.evaluate(inner, session)
        return " ".join((w.value or "") if w.kind == "word" else w.raw for w in args)

    async def _pick(
        self, args: list[Word], statement: Statement, session: Session, text: str
    ) -> str:
        """``:pick <list> <start> [<end>]`` on ``;``-separated lists (find results)."""
        if not args:
            raise syntax_error("syntax error", 1)
        end = _matching(args, 0) + 1 if args[0].kind == "open" else 1
        items = (await self._value(args[:end], statement, session, text)).split(";")
        numbers = [int(w.value or "0") for w in args[end:] if w.kind == "word"]
        if not numbers:
            raise syntax_error("syntax error", args[-1].offset + 1)
        start = numbers[0]
        stop = numbers[1] if len(numbers) > 1 else start + 1
        return ";".join(i for i in items[start:stop] if i)

    async def evaluate(self, statement: Statement, session: Session) -> str:
        """A command's return value (``get`` gives the value, ``find`` the ids)."""
        text, words = self.prepared(statement, session)
        if words and words[0].kind == "word" and words[0].raw.startswith(":"):
            return await self._script_command(words, statement, session, text)
        inv = self.parse(words, statement, session, text)
        if inv is None:
            return ""
        await self.resolve_pending(inv, session)
        return await self.router.value_of(inv, session)


def _check_arguments(path: str, verb: str, bare: list[Word]) -> None:
    """What the name resolution leaves: ``add`` where items are fixed, bare words on ``add``.

    (Unknown argument names are refused while resolving them.)
    """
    schema = schema_mod.lookup(path)
    if verb == "add" and schema.fixed:
        raise syntax_error("bad command name add", 1)
    if bare and verb == "add" and schema_mod.arguments(path) is not None:
        raise syntax_error("expected end of command", bare[0].offset + 1)


def located(exc: ConsoleError, statement: Statement) -> str:
    """The error as RouterOS prints it, with the physical line and column if it has one."""
    if exc.column is None:
        return exc.text
    line, column = statement.position(exc.column - 1)
    return f"{exc.text} (line {line} column {column})"


def require(session: Session, policy: str) -> None:
    if "full" in session.policies or policy in session.policies:
        return
    raise ConsoleError(NOT_ENOUGH_PERMISSIONS)


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace ``$var`` outside escapes with its value (quoted when outside quotes)."""
    out: list[str] = []
    i = 0
    in_quote = False
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i : i + 2])
            i += 2
            continue
        if ch == '"':
            in_quote = not in_quote
        if ch == "$":
            m = _VAR.match(text, i)
            if m:
                name = m.group(1) if m.group(1) is not None else m.group(2)
                value = variables.get(name, "")
                if in_quote:
                    out.append(quote(value, always=True)[1:-1])
                else:
                    out.append(quote(value))
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


#: The most iterations one ``:for``/``:while``/``:do`` runs (a runaway loop is an error).
LOOP_LIMIT = 100_000
_IDS = re.compile(r"\*[0-9A-Fa-f]+(?:;\*[0-9A-Fa-f]+)*")


def _elements(value: str) -> list[str]:
    """A value as RouterOS array elements: ``;``-separated ids (a ``find``), else itself."""
    if not value:
        return []
    if ";" in value or _IDS.fullmatch(value):
        return [v for v in value.split(";") if v]
    return [value]


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConsoleError(f"failure: {value!r} is not a number") from None


def _command_text(inv: Invocation) -> str:
    return f"{inv.path} {inv.verb}" if inv.path else f"/{inv.verb}"


def _path(segs: list[str]) -> str:
    return "/" + " ".join(segs) if segs else ""


def _matching(words: list[Word], start: int) -> int:
    depth = 0
    for i in range(start, len(words)):
        if words[i].kind == "open":
            depth += 1
        elif words[i].kind == "close":
            depth -= 1
            if depth == 0:
                return i
    raise syntax_error("expected closing bracket", words[start].offset + 1)
