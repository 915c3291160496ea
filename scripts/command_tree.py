"""Build src/tikguard/routeros/data/commands.json.gz: RouterOS's console command tree.

Two public sources, both in the test corpus (../shared/corpus, see its MANIFEST.md):

* ``grammar/ros-inspect-all_7.19.4_extra.json``: RouterOS 7.19.4's own
  ``/console/inspect`` dump (x86 CHR, every extra package; tikoci/restraml, Unlicense):
  every menu, every command of a menu, every argument of a command;
* ``exports/*.rsc``: the menus, commands and argument names real exports of RouterOS
  5.7 to 7.21 use, so the older and newer versions' names (6.x ``/routing bgp peer``,
  ``routing-mark=``, hardware menus a CHR lacks) are known too.

Run from the repository root after the corpus changes:

    .venv/bin/python scripts/command_tree.py ../shared/corpus

The output is deterministic (sorted, gzip without a timestamp);
``tests/routeros/test_commands.py`` rebuilds it and compares when the corpus is there.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

from tikguard.routeros.parse import parse

GRAMMAR = "grammar/ros-inspect-all_7.19.4_extra.json"
#: Menus the corpus transcripts show that neither source above has (hardware a CHR
#: lacks, 6.x menus no export prints): their commands are the generic ones.
TRANSCRIPT_MENUS = {
    "/interface ethernet poe": "ntc-templates interface_ethernet_poe_print_without-paging",
    "/routing bgp vpnv4-route": "ansible facts routing_bgp_vpnv4-route_print_detail",
}
OUTPUT = Path("src/tikguard/routeros/data/commands.json.gz")


def _walk(node: dict[str, Any], path: list[str], out: dict[str, Any]) -> None:
    menus: list[str] = []
    commands: dict[str, list[str]] = {}
    for name, child in node.items():
        if not isinstance(child, dict):
            continue
        kind = child.get("_type")
        if kind in ("dir", "path"):
            menus.append(name)
            _walk(child, [*path, name], out)
        elif kind == "cmd":
            commands[name] = sorted(
                a for a, v in child.items() if isinstance(v, dict) and v.get("_type") == "arg"
            )
    out["/" + " ".join(path) if path else ""] = {"menus": sorted(menus), "commands": commands}


def _seen(exports: Path) -> dict[str, dict[str, list[str]]]:
    """Per menu, per command, the argument names the corpus exports use."""
    seen: dict[str, dict[str, set[str]]] = {}
    for path in sorted(exports.glob("*.rsc")):
        config = parse(path.read_bytes().decode("utf-8", "surrogateescape"), source=path.name)
        for menu in config.menus:
            if not menu.path:
                continue
            commands = seen.setdefault(menu.path, {})
            for command in menu.commands:
                commands.setdefault(command.verb, set()).update(p.key for p in command.props)
    return {
        menu: {verb: sorted(args) for verb, args in sorted(commands.items())}
        for menu, commands in sorted(seen.items())
    }


def build(corpus: Path) -> bytes:
    grammar = json.loads((corpus / GRAMMAR).read_text())
    menus: dict[str, Any] = {}
    _walk(grammar, [], menus)
    data = {
        "source": "RouterOS 7.19.4 /console/inspect (+extra packages) and the corpus exports",
        "menus": dict(sorted(menus.items())),
        "seen": {**{path: {} for path in TRANSCRIPT_MENUS}, **_seen(corpus / "exports")},
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def main() -> None:
    corpus = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/corpus")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_bytes(build(corpus))
    print(f"{OUTPUT}: {OUTPUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
