"""``tikguard config normalise``: files, standard input, byte-exact output, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import corpus_exports
from typer.testing import CliRunner

from tikguard.cli import app
from tikguard.routeros.normalise import normalise

runner = CliRunner()

RAW = (
    b"# 2024-02-09 08:47:35 by RouterOS 7.13.4\r\n"
    b"# software id = ABCD-1234\r\n"
    b"#\r\n"
    b"/ip dns\r\n"
    b"set servers=1.1.1.1   \r\n"
    b"/interface ethernet\r\n"
    b"# ether5 not ready\r\n"
    b'set [ find default-name=ether5 ] comment="\xd2\xd2\xca"\r\n'
)


def test_normalises_a_file(tmp_path: Path) -> None:
    path = tmp_path / "gw.rsc"
    path.write_bytes(RAW)
    result = runner.invoke(app, ["config", "normalise", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == (
        b"# software id = ABCD-1234\n#\n/ip dns\nset servers=1.1.1.1\n/interface ethernet\n"
        b'set [ find default-name=ether5 ] comment="\xd2\xd2\xca"\n'
    )


def test_reads_standard_input_and_keeps_undecodable_bytes() -> None:
    result = runner.invoke(app, ["config", "normalise", "-"], input=RAW)
    assert result.exit_code == 0, result.output
    assert b"\xd2\xd2\xca" in result.stdout_bytes
    assert b"2024-02-09" not in result.stdout_bytes


def test_reformat_prints_routeros_layout(tmp_path: Path) -> None:
    path = tmp_path / "hand-wrapped.rsc"
    path.write_text("/ip address\nadd address=192.0.2.1/24 \\\n    interface=ether1\n")
    result = runner.invoke(app, ["config", "normalise", "--reformat", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "/ip address\nadd address=192.0.2.1/24 interface=ether1\n"


def test_malformed_input_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.rsc"
    path.write_text('/ip address\nadd address="192.0.2.1/24 interface=ether1\n')
    result = runner.invoke(app, ["config", "normalise", str(path)])
    assert result.exit_code == 1
    assert f"{path}:2:13" in result.output.replace("\n", "")
    assert "unterminated quoted string" in result.output
    assert "Traceback" not in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "normalise", str(tmp_path / "absent.rsc")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


@pytest.mark.parametrize("path", corpus_exports()[:3], ids=lambda p: p.name)
def test_corpus_file_output_equals_the_library(path: Path) -> None:
    result = runner.invoke(app, ["config", "normalise", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    assert result.stdout_bytes == normalise(text).encode("utf-8", "surrogateescape")
