"""The simulator's modules import each other without a loop, type-only imports included.

The console, handlers and scheduler see the router through ``sim/context.py``'s
``RouterHost`` protocol; a module that imported ``sim/router.py`` back (even under
``TYPE_CHECKING``) would close the loop this test guards against.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import tikguard.sim

SIM = Path(tikguard.sim.__file__).parent
PACKAGE = "tikguard.sim"


def _sim_imports(path: Path) -> set[str]:
    """Names of sim modules ``path`` imports anywhere in its source."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PACKAGE + "."):
                    found.add(alias.name.split(".")[2])
    return found


def _graph() -> dict[str, set[str]]:
    modules = {p.stem for p in SIM.glob("*.py") if p.stem != "__init__"}
    return {m: _sim_imports(SIM / f"{m}.py") & modules for m in modules}


def test_sim_modules_form_no_import_cycle() -> None:
    graph = _graph()
    assert {"console", "router", "system", "importer", "scheduler", "context"} <= set(graph)
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle in tikguard.sim: {exc.args[1]}") from None
    assert order.index("context") < order.index("console") < order.index("router")


def test_handlers_see_the_router_only_through_the_context() -> None:
    graph = _graph()
    for module in ("console", "system", "importer", "scheduler", "generic", "context"):
        assert "router" not in graph[module], module
