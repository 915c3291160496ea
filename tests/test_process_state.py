"""What a process keeps between calls has one owner: ``tikguard.process.STATE``.

Module-level mutable state spread over the package (a dict of running pushes here, a
cached database there, a ``global`` engine handle) is state no one can see whole, reset
or reason about. Each module that needs some defines a holder class and asks
``STATE.of(Holder)`` for it; this test reads every module of the package and fails,
naming file and line, on anything else: a ``global`` statement, a module-level (or
class-level) mutable container or lock, an attribute assigned on another module.
Constant tables are written as tuples, frozensets or ``MappingProxyType`` (one built by
statements at import is frozen, and its builder deleted, once it is complete).
"""

from __future__ import annotations

import ast
from pathlib import Path

import tikguard

SRC = Path(tikguard.__file__).parent
#: The one owner.
OWNER = SRC / "process.py"

#: Calls that make a mutable container (or a lock guarding one).
_MUTABLE_CALLS = frozenset(
    {
        "dict",
        "list",
        "set",
        "bytearray",
        "defaultdict",
        "OrderedDict",
        "deque",
        "Counter",
        "WeakValueDictionary",
        "WeakKeyDictionary",
        "WeakSet",
        "Lock",
        "RLock",
        "Condition",
        "Event",
        "Semaphore",
        "BoundedSemaphore",
    }
)
_MUTABLE_NODES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)


def _mutable(value: ast.expr | None) -> bool:
    if isinstance(value, _MUTABLE_NODES):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        return name in _MUTABLE_CALLS
    return False


def _bindings(body: list[ast.stmt]) -> list[tuple[str, ast.expr | None, int]]:
    """Names bound by the statements of a module or class body (into ``if``/``try``)."""
    out: list[tuple[str, ast.expr | None, int]] = []
    for node in body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        out.append((name.id, node.value, node.lineno))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.append((node.target.id, node.value, node.lineno))
        elif isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                out += _bindings(getattr(node, block, []))
    return out


def _module_names(tree: ast.Module) -> set[str]:
    """Names this module binds to a module of the package (``from tikguard.x import y``
    where ``y`` is a module, ``import tikguard.x as y``)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = SRC.parent.joinpath(*node.module.split("."))
            for alias in node.names:
                if (base / f"{alias.name}.py").exists() or (base / alias.name).is_dir():
                    out.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            out.update(a.asname for a in node.names if a.asname and a.name.startswith("tikguard"))
    return out


def _problems(path: Path, base: Path = SRC.parent) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(base)
    found: list[str] = []
    # a table built at import and deleted once frozen does not outlive the import
    deleted = {
        t.id
        for node in tree.body
        if isinstance(node, ast.Delete)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    for name, value, line in _bindings(tree.body):
        if name != "__all__" and name not in deleted and _mutable(value):
            found.append(f"{where}:{line}: module-level mutable {name}")
    modules = _module_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            found.append(f"{where}:{node.lineno}: global {', '.join(node.names)}")
        elif isinstance(node, ast.ClassDef):
            for name, value, line in _bindings(node.body):
                # dunders are a framework's declarations (``__table_args__``), read once
                if _mutable(value) and not (name.startswith("__") and name.endswith("__")):
                    found.append(f"{where}:{line}: class-level mutable {node.name}.{name}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in modules
                ):
                    found.append(
                        f"{where}:{node.lineno}: sets {target.value.id}.{target.attr} "
                        "on another module"
                    )
    return found


def test_no_process_state_outside_its_one_owner() -> None:
    found = [p for path in sorted(SRC.rglob("*.py")) if path != OWNER for p in _problems(path)]
    assert not found, (
        "process state outside tikguard.process.STATE (a holder class and STATE.of(...); "
        "constants as tuple/frozenset/MappingProxyType):\n" + "\n".join(found)
    )


def test_the_check_sees_state_where_it_hides(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "import threading\n"
        "from types import MappingProxyType\n"
        "from tikguard.ops import runtime\n"
        "__all__ = ['x']\n"
        "KEPT = MappingProxyType({'a': 1})\n"
        "NAMES = frozenset({'a'})\n"
        "_cache: dict[str, int] = {}\n"
        "if True:\n"
        "    _seen = set()\n"
        "_lock = threading.Lock()\n"
        "_building = {}\n"
        "FROZEN = MappingProxyType(_building)\n"
        "del _building\n"
        "class C:\n"
        "    items = []\n"
        "def f() -> None:\n"
        "    global _cache\n"
        "    runtime.engine = None\n"
        "    local = {}\n",
        encoding="utf-8",
    )
    found = [p.split(": ", 1)[1] for p in _problems(source, tmp_path)]
    assert found == [
        "module-level mutable _cache",
        "module-level mutable _seen",
        "module-level mutable _lock",
        "class-level mutable C.items",
        "global _cache",
        "sets runtime.engine on another module",
    ]


def test_each_holder_is_made_once_per_process() -> None:
    from dataclasses import dataclass, field

    from tikguard.process import ProcessState

    @dataclass
    class Seen:
        names: list[str] = field(default_factory=list)

    state = ProcessState()
    state.of(Seen).names.append("r1")
    assert state.of(Seen).names == ["r1"]
    assert state.held() == [f"{__name__}.test_each_holder_is_made_once_per_process.<locals>.Seen"]
