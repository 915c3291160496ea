"""Reading the files a user hands the CLI: one function for every command.

Scripts, exports and inventories come from Windows editors (UTF-16 with a BOM, UTF-8
with a BOM), from pipes and sometimes by mistake from a binary. Every command reads
them through :func:`read_user_file`: the encoding is taken from the BOM (UTF-8,
UTF-8 with BOM, UTF-16 LE/BE), a NUL byte means a binary and is refused with its
byte offset, text that is not UTF-8 is refused with the offset of the first bad byte
(or, for exports, kept as surrogate escapes: RouterOS exports may carry other
encodings in comments and names), and a file over the size limit is refused before it
is read whole. Every refusal is one clear message, never a traceback.
"""

from __future__ import annotations

import codecs
import sys
from pathlib import Path
from typing import BinaryIO, Final

import typer

from tikguard.commands._ui import fail

#: The largest file the CLI reads (the biggest real exports are a few MB).
MAX_INPUT_BYTES: Final = 32 * 1024 * 1024

_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _read_limited(stream: BinaryIO, shown: str, limit: int) -> bytes:
    data = stream.read(limit + 1)
    if len(data) > limit:
        fail(
            f"{shown} is larger than {limit // (1024 * 1024)} MiB",
            "split it, or check that it is the file you meant",
        )
    return data


def _nul_at(body: bytes, width: int) -> int:
    """Offset of the first NUL character (``width`` bytes, aligned), or -1."""
    at = body.find(b"\0" * width)
    while at >= 0 and at % width:
        at = body.find(b"\0" * width, at + 1)
    return at


def decode_user_bytes(raw: bytes, shown: str, *, keep_invalid: bool = False) -> str:
    """``raw`` as text by its BOM (see the module notes); refusals name byte offsets."""
    encoding, start = "utf-8", 0
    for bom, name in _BOMS:
        if raw.startswith(bom):
            encoding, start = name, len(bom)
            break
    body = raw[start:]
    width = 2 if encoding.startswith("utf-16") else 1
    nul = next(
        (i for i in range(0, len(body) - width + 1, width) if not any(body[i : i + width])), -1
    )
    if nul >= 0:
        fail(
            f"{shown} looks binary (a NUL byte at byte offset {start + nul})",
            "give a text file: a RouterOS script, an export or a CSV",
        )
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as exc:
        if keep_invalid and encoding == "utf-8":
            return body.decode("utf-8", "surrogateescape")
        fail(
            f"{shown} is not valid {encoding.upper()} text (byte offset {start + exc.start})",
            "save it as UTF-8 (or UTF-16 with a BOM)",
        )


def read_user_file(path: Path, *, keep_invalid: bool = False, limit: int = MAX_INPUT_BYTES) -> str:
    """The text of a file the user named (``-``: standard input)."""
    shown = "standard input" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            raw = _read_limited(sys.stdin.buffer, shown, limit)
        else:
            with path.open("rb") as stream:
                raw = _read_limited(stream, shown, limit)
    except OSError as exc:
        fail(f"cannot read {shown}: {exc.strerror or exc}", "check the path and permissions")
    return decode_user_bytes(raw, shown, keep_invalid=keep_invalid)


def read_secret(prompt: str, from_stdin: bool) -> str:
    """A password: one line of standard input (``--password-stdin``), else asked for
    without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail("no password on standard input", 'pipe it in: echo "$PW" | tikguard ...')
        return line.rstrip("\r\n")
    value: str = typer.prompt(prompt, hide_input=True)
    return value
