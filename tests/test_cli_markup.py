"""Data printed by the CLI (diffs, reasons, router names) is never read as Rich markup."""

from __future__ import annotations

from rich.console import Console

from tikguard.commands._ui import cell, labelled

HOSTILE = "move [#21 -> #2] of [bold]r1[/] with [ find default-name=ether1 ]"


def _render(*items: object) -> str:
    out = Console(record=True, width=200, color_system=None)
    for item in items:
        out.print(item, highlight=False)
    return out.export_text()


def test_a_label_and_data_print_the_data_as_itself() -> None:
    text = _render(labelled("risk", "yellow", HOSTILE), cell(HOSTILE, "dim"))
    assert text.splitlines() == [f"risk {HOSTILE}", HOSTILE]


def test_the_label_keeps_its_style_and_the_data_has_none() -> None:
    line = labelled("cannot be planned", "red", HOSTILE)
    assert line.plain == f"cannot be planned {HOSTILE}"
    assert [(s.start, s.end, str(s.style)) for s in line.spans] == [(0, 17, "red")]
