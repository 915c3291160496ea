"""Files handed to the CLI: every decode path (config normalise and diff, push --file,
device import) reads UTF-8, UTF-8 with a BOM and UTF-16 LE/BE with a BOM alike,
refuses binaries with the byte offset of the NUL, and never lets a control character
from a file reach the terminal."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tikguard.cli import _disk_full, app
from tikguard.commands._input import MAX_INPUT_BYTES

EXPORT = "/ip dns\nset servers=1.1.1.1\n/system identity\nset name=gw-ü\n"
CSV = "name,host,port,username,password\nr1,192.0.2.1,22,admin,pw-1\n"

ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8-bom": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16-le": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16-be": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
}
BINARY = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8 + b"IHDR"


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"TIKGUARD_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_every_encoding_reads_alike(tmp_path: Path, encoding: str) -> None:
    export = tmp_path / "gw.rsc"
    export.write_bytes(ENCODINGS[encoding](EXPORT))
    code, out = run(tmp_path, "config", "normalise", str(export))
    assert code == 0, out
    assert out == EXPORT
    plain = tmp_path / "plain.rsc"
    plain.write_text(EXPORT, encoding="utf-8")
    code, out = run(tmp_path, "config", "diff", str(plain), str(export))
    assert code == 0 and "no differences" in out.lower(), out
    inventory = tmp_path / "inventory.csv"
    inventory.write_bytes(ENCODINGS[encoding](CSV))
    code, out = run(tmp_path, "device", "import", str(inventory))
    assert code == 0 and "imported 1 device" in out, out


@pytest.mark.parametrize(
    "args",
    [
        ("config", "normalise", "{f}"),
        ("config", "diff", "{f}", "{f}"),
        ("device", "import", "{f}"),
        ("push", "r1", "--file", "{f}", "--yes"),
    ],
)
def test_binary_files_are_refused_with_the_offset(tmp_path: Path, args: tuple[str, ...]) -> None:
    path = tmp_path / "logo.png"
    path.write_bytes(BINARY)
    code, out = run(tmp_path, *(a.format(f=path) for a in args))
    assert code == 1, out
    assert "looks binary (a NUL byte at byte offset 8)" in out.replace("\n", "")
    assert "Traceback" not in out


def test_utf16_binary_and_bad_utf8_name_their_offsets(tmp_path: Path) -> None:
    path = tmp_path / "script.rsc"
    path.write_bytes(codecs.BOM_UTF16_LE + "ab".encode("utf-16-le") + b"\x00\x00")
    code, out = run(tmp_path, "push", "r1", "--file", str(path), "--yes")
    assert code == 1 and "byte offset 6" in out, out
    path.write_bytes(b"/ip dns set servers=1.1.1.1 comment=\xff\n")
    code, out = run(tmp_path, "push", "r1", "--file", str(path), "--yes")
    assert code == 1 and "not valid UTF-8 text (byte offset 36)" in out, out


def test_too_large_files_are_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.rsc"
    with path.open("wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)  # sparse: no disk used
    code, out = run(tmp_path, "config", "normalise", str(path))
    assert code == 1 and "larger than 32 MiB" in out, out


def test_control_characters_from_files_are_escaped(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("name,address\n\x1b]0;pwned\x07r1,10.0.0.1\n")
    code, out = run(tmp_path, "device", "import", str(inventory))
    assert code == 1, out
    assert "\x1b" not in out and "\x07" not in out


def test_a_full_disk_is_one_clear_message() -> None:
    full = OSError(28, "No space left on device")
    assert _disk_full(full)
    wrapped = RuntimeError("store failed")
    wrapped.__cause__ = Exception("(sqlite3.OperationalError) database or disk is full")
    assert _disk_full(wrapped)
    assert not _disk_full(ValueError("bad value"))
