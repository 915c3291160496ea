"""RouterOS console errors, carrying the exact text RouterOS prints."""

from __future__ import annotations


class ConsoleError(Exception):
    """A command failed; ``text`` is RouterOS's message (``failure: ...``, ``no such item``).

    ``column`` (1-based, within the command's logical line) is set for syntax errors,
    which RouterOS prints as ``<text> (line L column C)``.
    """

    def __init__(self, text: str, *, column: int | None = None, syntax: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.column = column
        self.syntax = syntax

    def render(self, line: int = 1) -> str:
        if self.column is None:
            return self.text
        return f"{self.text} (line {line} column {self.column})"


class BlockFailed(Exception):
    """A control statement's block ended in an error; ``output`` is what it printed,
    the error last. The whole run ends there, as on RouterOS."""

    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


class Interrupted(Exception):
    """The router lost power or rebooted while a command was running."""


def syntax_error(text: str, column: int) -> ConsoleError:
    return ConsoleError(text, column=column, syntax=True)


NO_SUCH_ITEM = "no such item"
ALREADY_HAVE = "failure: already have such entry"
NOT_ENOUGH_PERMISSIONS = "not enough permissions"
