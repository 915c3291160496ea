"""``tikguard config diff`` and ``config patch`` as an engineer runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tikguard.cli import app

runner = CliRunner()

OLD = """\
# 2024-02-09 08:47:35 by RouterOS 7.16
/ip address
add address=192.0.2.1/24 interface=ether1
/ip firewall filter
add action=accept chain=input comment=ssh dst-port=22 protocol=tcp
add action=drop chain=input
/ppp secret
add name=alice password=hunter2 service=pppoe
"""
NEW = """\
# 2024-02-10 09:00:00 by RouterOS 7.16
/ip address
add address=192.0.2.1/24 interface=ether1
/ip firewall filter
add action=accept chain=input comment=ssh dst-port=2222 protocol=tcp
add action=drop chain=input
/ppp secret
add name=alice password=correct-horse service=pppoe
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_diff_text_shows_changes_and_risks_but_no_secret(tmp_path: Path) -> None:
    old, new = write(tmp_path, "old.rsc", OLD), write(tmp_path, "new.rsc", NEW)
    result = runner.invoke(app, ["config", "diff", str(old), str(new)])
    assert result.exit_code == 0, result.output
    assert "dst-port: 22 -> 2222" in result.output
    assert "risk firewall-input" in result.output
    assert "/ppp secret" in result.output  # the secret changed ...
    assert "hunter2" not in result.output and "correct-horse" not in result.output


def test_diff_json(tmp_path: Path) -> None:
    old, new = write(tmp_path, "old.rsc", OLD), write(tmp_path, "new.rsc", NEW)
    result = runner.invoke(app, ["config", "diff", "--json", str(old), str(new)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema"] == "tikguard.diff/1"
    assert doc["summary"]["changed"] == 2
    assert [r["tag"] for r in doc["risk"]] == ["firewall-input"]
    assert "hunter2" not in result.output


def test_patch_prints_a_script(tmp_path: Path) -> None:
    old, new = write(tmp_path, "old.rsc", OLD), write(tmp_path, "new.rsc", NEW)
    result = runner.invoke(app, ["config", "patch", "--show-sensitive", str(old), str(new)])
    assert result.exit_code == 0, result.output
    assert "set [ find comment=ssh ] dst-port=2222" in result.output
    assert "set [ find name=alice ] password=correct-horse" in result.output


def test_patch_exit_code_when_not_expressible(tmp_path: Path) -> None:
    old = write(
        tmp_path, "old.rsc", "/ip address\nadd address=10.0.0.1 interface=e1 network=10.0.0.2\n"
    )
    new = write(tmp_path, "new.rsc", "/ip address\nadd address=10.0.0.1 interface=e1\n")
    text = runner.invoke(app, ["config", "patch", str(old), str(new)])
    assert text.exit_code == 2
    assert text.stdout.startswith("# INCOMPLETE: 1 change(s)")
    result = runner.invoke(app, ["config", "patch", "--json", str(old), str(new)])
    assert result.exit_code == 2
    doc = json.loads(result.output)
    assert doc["ok"] is False
    assert doc["unsupported"][0]["menu"] == "/ip address"


def test_malformed_input_names_file_line_and_column(tmp_path: Path) -> None:
    # a path longer than a terminal line: the message must not be wrapped inside it
    deep = tmp_path / ("exports-" + "x" * 80)
    deep.mkdir()
    bad = write(deep, "bad.rsc", '/ip address\nadd address="1.2.3.4\n')
    good = write(tmp_path, "good.rsc", OLD)
    result = runner.invoke(app, ["config", "diff", str(bad), str(good)])
    assert result.exit_code == 1
    assert f"{bad}:2:" in result.output
    assert "Traceback" not in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "patch", str(tmp_path / "nope.rsc"), str(tmp_path)])
    assert result.exit_code == 1
    assert "cannot read" in result.output
