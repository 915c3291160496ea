"""The SSH session side of the router: exec channel and interactive console.

An exec channel (``ssh admin@router /export``) runs the command text and closes, the
output in CRLF lines as RouterOS writes them. An interactive shell prints the login
banner, the ``[admin@MikroTik] > `` prompt (with the current menu when the console has
one: ``[admin@MikroTik] /ip address> ``), echoes what is typed when the client asked
for a terminal, runs each line and ends on ``quit`` or ``/quit`` with ``interrupted``,
like the transcripts of real sessions. A command keeps running on the router when
the connection drops under it (an ``/import`` cut off mid-way goes on applying).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import asyncssh

from tikguard.process import STATE
from tikguard.sim.login import DEFAULT_WIDTH, LoginOptions, parse_login

if TYPE_CHECKING:
    from tikguard.sim.router import SimRouter


@dataclass
class Detached:
    """Tasks that must outlive the session that started them (see module docstring),
    held in :data:`tikguard.process.STATE` until they end."""

    tasks: set[asyncio.Task[str]] = field(default_factory=set)


_BANNER = """\


  MMM      MMM       KKK                          TTTTTTTTTTT      KKK
  MMMM    MMMM       KKK                          TTTTTTTTTTT      KKK
  MMM MMMM MMM  III  KKK  KKK  RRRRRR     OOOOOO      TTT     III  KKK  KKK
  MMM  MM  MMM  III  KKKKK     RRR  RRR  OOO  OOO     TTT     III  KKKKK
  MMM      MMM  III  KKK KKK   RRRRRR    OOO  OOO     TTT     III  KKK KKK
  MMM      MMM  III  KKK  KKK  RRR  RRR   OOOOOO      TTT     III  KKK  KKK

  MikroTik RouterOS {version} (c) 1999-{year}       {site}

{help}

"""


#: The help block 6.x prints under its banner (7.x prints "Press F1 for help").
_V6_HELP = """\
[?]             Gives the list of available commands
command [?]     Gives help on the command and list of arguments

[Tab]           Completes the command/word. If the input is ambiguous,
                a second [Tab] gives possible options

/               Move up to base level
..              Move up one level
/command        Use command at the base level"""


class Console(Protocol):
    """One console session on a router (the brain's, or the fallback below)."""

    @property
    def path(self) -> str: ...

    async def execute(self, text: str) -> str: ...


class _RouterConsole:
    """Fallback when the router has no per-session console: always at the root."""

    __slots__ = ("_router", "_user")

    def __init__(self, router: SimRouter, user: str) -> None:
        self._router = router
        self._user = user

    @property
    def path(self) -> str:
        return ""

    async def execute(self, text: str) -> str:
        return await self._router.execute(text, user=self._user)


def open_console(router: SimRouter, user: str, width: int) -> Console:
    """A console session for ``user`` at terminal ``width``."""
    opener: Callable[..., Console] | None = getattr(router, "open_console", None)
    if opener is not None:
        return opener(user, width=width)
    return _RouterConsole(router, user)


def to_crlf(text: str) -> str:
    """RouterOS ends every line it sends with CRLF."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def prompt(user: str, identity: str, path: str) -> str:
    """``[admin@MikroTik] > `` or ``[admin@MikroTik] /ip address> ``."""
    return f"[{user}@{identity}] {path}> " if path else f"[{user}@{identity}] > "


def banner(router: SimRouter) -> str:
    version = router.profile.version
    year = router.clock.now().year
    v7 = router.profile.is_v7
    help_text = "Press F1 for help" if v7 else _V6_HELP
    site = "https://www.mikrotik.com/" if v7 else "http://www.mikrotik.com/"
    return to_crlf(_BANNER.format(version=version, year=year, help=help_text, site=site))


async def run_detached(work: Awaitable[str]) -> str:
    """Await ``work``; if this session is cancelled (connection lost), let it finish."""
    task = asyncio.ensure_future(work)
    detached = STATE.of(Detached).tasks
    detached.add(task)
    task.add_done_callback(detached.discard)
    return await asyncio.shield(task)


#: Called before a command's output is written: may drop the connection (a fault).
BeforeOutput = Callable[[], None]


async def serve_session(
    router: SimRouter,
    process: asyncssh.SSHServerProcess[str],
    before_output: BeforeOutput,
) -> None:
    """Handle one SSH session channel (exec or shell) until it ends."""
    login = parse_login(str(process.get_extra_info("username") or ""))
    term_width = process.get_terminal_size()[0]
    width = login.width or term_width or DEFAULT_WIDTH
    console = open_console(router, login.user, width)
    try:
        if process.command is not None:
            out = await run_detached(console.execute(process.command))
            before_output()
            process.stdout.write(to_crlf(out))
            process.exit(0)
            return
        await _interactive(router, process, console, login, before_output)
    except (BrokenPipeError, ConnectionError, asyncssh.DisconnectError):
        return


async def _interactive(
    router: SimRouter,
    process: asyncssh.SSHServerProcess[str],
    console: Console,
    login: LoginOptions,
    before_output: BeforeOutput,
) -> None:
    echo = process.get_terminal_type() is not None and not login.dumb
    out = process.stdout
    out.write(banner(router))
    reader = _LineReader(process.stdin, out if echo else None)
    pending = ""
    while True:
        out.write(prompt(login.user, router.identity, console.path) if not pending else "")
        line = await reader.readline()
        if line is None:
            process.exit(0)
            return
        if line.endswith("\\"):  # a continued line, as exports write them
            pending += line[:-1]
            continue
        text, pending = pending + line, ""
        if text.strip() in ("quit", "/quit"):
            out.write("interrupted\r\n")
            process.exit(0)
            return
        if not text.strip():
            continue
        result = await run_detached(console.execute(text))
        before_output()
        if result:
            out.write(to_crlf(result if result.endswith("\n") else result + "\n"))


class _LineReader:
    """Reads typed lines from a raw terminal stream, echoing like the RouterOS console."""

    __slots__ = ("_buf", "_echo", "_esc", "_pending", "_skip_lf", "_stdin")

    def __init__(
        self,
        stdin: asyncssh.SSHReader[str],
        echo: asyncssh.SSHWriter[str] | None,
    ) -> None:
        self._stdin = stdin
        self._echo = echo
        self._buf: list[str] = []
        self._pending = ""
        self._skip_lf = False
        self._esc = ""

    async def readline(self) -> str | None:
        """The next line without its end, or None at end of input."""
        while True:
            while self._pending:
                ch, self._pending = self._pending[0], self._pending[1:]
                line = self._feed(ch)
                if line is not None:
                    return line
            try:
                chunk = await self._stdin.read(4096)
            except asyncssh.TerminalSizeChanged:
                continue  # a resized window does not end the session
            except asyncssh.BreakReceived:
                chunk = "\x03"
            if not chunk:
                if self._buf:
                    line, self._buf = "".join(self._buf), []
                    return line
                return None
            self._pending = chunk

    def _feed(self, ch: str) -> str | None:
        if self._esc:  # inside an escape sequence (arrow keys, F1, ...): ignore it
            self._esc += ch
            ended = len(self._esc) > 2 and (ch.isalpha() or ch == "~")
            if ended or len(self._esc) > 8 or (len(self._esc) == 2 and ch not in "[O"):
                self._esc = ""
            return None
        if ch == "\x1b":
            self._esc = ch
            return None
        if ch == "\n" and self._skip_lf:
            self._skip_lf = False
            return None
        self._skip_lf = ch == "\r"
        if ch in "\r\n":
            self._write("\r\n")
            line, self._buf = "".join(self._buf), []
            return line
        if ch in "\x7f\x08":
            if self._buf:
                self._buf.pop()
                self._write("\b \b")
            return None
        if ch == "\x03":  # Ctrl-C: drop the line, fresh prompt
            self._buf = []
            self._write("\r\n")
            return ""
        if ch < " " and ch != "\t":
            return None  # other control characters are not line text
        self._buf.append(ch)
        self._write(ch)
        return None

    def _write(self, text: str) -> None:
        if self._echo is not None:
            self._echo.write(text)
