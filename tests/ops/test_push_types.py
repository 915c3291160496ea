"""The push path is typed end to end: no ``Any`` in its annotations.

The crash-safety protocol branches on step results and evidence; a ``dict[str, Any]``
there reads a misspelt key as "unknown" without a word. The JSON boundaries (DBOS's
recorded input and outputs, the database's JSON columns) each have one typed decoder
(``Recordable.from_json``, ``PushSpec.recorded``), and every shape in between is a
dataclass or a TypedDict. This test reads the source, so a new ``Any`` fails here with
its file and line.
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import tikguard
from tikguard.ops.push.evidence import Evidence, EvidenceJson

SRC = Path(tikguard.__file__).parent
#: The push path: the push package, the write path for what a router said, what a push
#: leaves on a router, and the router-side commands of a push.
PUSH_PATH = (
    *sorted((SRC / "ops" / "push").glob("*.py")),
    SRC / "ops" / "readings.py",
    SRC / "ops" / "leftovers.py",
    SRC / "device" / "guard.py",
)


def _annotations(tree: ast.AST) -> list[ast.expr]:
    """Every annotation: parameters, returns, and annotated names (fields, variables)."""
    out: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            params += [a for a in (args.vararg, args.kwarg) if a is not None]
            out += [p.annotation for p in params if p.annotation is not None]
            if node.returns is not None:
                out.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            out.append(node.annotation)
    return out


def _untyped(annotation: ast.expr) -> bool:
    """``Any`` anywhere inside (``dict[str, Any]``, ``typing.Any``) or ``Dict[...]``."""
    for node in ast.walk(annotation):
        if isinstance(node, ast.Name) and node.id in ("Any", "Dict"):
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("Any", "Dict"):
            return True
        quoted = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if quoted and _untyped(ast.parse(str(node.value), mode="eval").body):
            return True
    return False


def test_no_any_in_the_push_path() -> None:
    found = []
    for path in PUSH_PATH:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for annotation in _annotations(tree):
            if _untyped(annotation):
                where = f"{path.relative_to(SRC.parent)}:{annotation.lineno}"
                found.append(f"{where}: {ast.unparse(annotation)}")
    assert not found, "Any in the push path (use a dataclass or a TypedDict):\n" + "\n".join(found)


def test_the_check_sees_any_where_it_hides() -> None:
    source = (
        "def f(a: dict[str, Any], *b: 'Any', **c: int) -> typing.Dict[str, int]: ...\n"
        "x: list[Any]\n"
        "def g(a: dict[str, object]) -> Mapping[str, object]: ...\n"
    )
    flagged = [ast.unparse(a) for a in _annotations(ast.parse(source)) if _untyped(a)]
    assert flagged == ["dict[str, Any]", "'Any'", "typing.Dict[str, int]", "list[Any]"]


def test_the_evidence_json_has_the_evidence_fields() -> None:
    """An operation's evidence is ``Evidence.as_dict()``: its TypedDict names exactly
    the dataclass's fields and the reboot it derives."""
    fields = {f.name for f in dataclasses.fields(Evidence)}
    assert set(EvidenceJson.__annotations__) == fields | {"rebooted"}
    assert set(Evidence().as_dict()) == set(EvidenceJson.__annotations__)
