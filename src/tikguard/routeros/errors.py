"""Errors raised by the RouterOS layer, carrying where in the input things went wrong."""

from __future__ import annotations


class ParseError(ValueError):
    """Malformed RouterOS text: says what is wrong, where (file, line, column) and what next.

    ``line`` and ``column`` are 1-based positions in the *physical* input (before
    backslash continuations are joined), so an editor can jump straight to them.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        source: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.source = source
        self.hint = hint
        super().__init__(self.describe())

    def describe(self) -> str:
        """``file:line:col: message`` with the hint appended, as compilers print it."""
        where = self.source or "<input>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def located(self, source: str) -> ParseError:
        """The same error naming ``source`` (a file name) as where the text came from."""
        return ParseError(
            self.message, line=self.line, column=self.column, source=source, hint=self.hint
        )
