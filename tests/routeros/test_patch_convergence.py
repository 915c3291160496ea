"""The real test of a patch: the simulator, loaded with A, imports patch(A, B) and
exports B (compared semantically).

Pairs: the corpus's same-device pairs in both directions, and edited versions of every
corpus export (comments, rule order, rules added and removed, leaf items removed).
``python -m tests.routeros.test_patch_convergence`` prints the pass rate.
"""

from __future__ import annotations

import asyncio
import functools
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import CORPUS, corpus_exports
from tests.routeros.netgen import ETHERS, Net, edits, nets
from tests.routeros.patch_oracle import apply
from tests.routeros.sim_harness import (
    SIM_ERROR,
    Outcome,
    converge,
    describe,
    mutate,
    needs,
    simulator_gaps,
)

from tikguard.routeros.diff import diff
from tikguard.routeros.model import Config
from tikguard.routeros.parse import parse

if SIM_ERROR is not None:
    pytest.skip(SIM_ERROR, allow_module_level=True)

SAME_DEVICE = [
    ("ros6.49.7_951ui_verbose.rsc", "ros6.49.7_951ui_compact.rsc"),
    ("ros7.18_chr_terse_lab-gw_delay-line.rsc", "ros7.18_chr_terse_lab-sw-dist.rsc"),
    ("ros7.16_chr_ospf-spine.rsc", "ros7.16_chr_isis-leaf.rsc"),
]
PAIRS = [*SAME_DEVICE, *[(b, a) for a, b in SAME_DEVICE]]


def load(name: str | Path) -> Config:
    path = name if isinstance(name, Path) else CORPUS / "exports" / name
    if not path.is_file():
        pytest.skip(f"corpus export {path} not found (set TIKGUARD_CORPUS)")
    return parse(path.read_bytes().decode("utf-8", "surrogateescape"), path.name)


def run(a: Config, b: Config) -> Outcome:
    return asyncio.run(converge(a, b))


def run_or_skip(a: Config, b: Config) -> Outcome:
    try:
        return run(a, b)
    except ValueError as exc:  # a RouterOS version the simulator does not model
        pytest.skip(str(exc))


@functools.cache
def gaps() -> dict[str, str]:
    return asyncio.run(simulator_gaps())


def check(outcome: Outcome) -> None:
    if not outcome.patch.ok:
        pytest.skip(
            "patch not expressible (a push would replace the whole config): "
            + "; ".join(str(u) for u in outcome.patch.unsupported[:3])
        )
    if not outcome.converged:
        missing = [why for marker, why in gaps().items() if needs(outcome.patch, marker)]
        if missing:
            pytest.xfail("the simulator cannot yet " + "; ".join(missing))
    assert outcome.converged, describe(outcome)


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=lambda n: n.split("_")[0] + n[-12:-4])
def test_same_device_pair_converges(old: str, new: str) -> None:
    check(run_or_skip(load(old), load(new)))


@pytest.mark.parametrize("path", corpus_exports(), ids=lambda p: p.name)
def test_edited_corpus_export_converges(path: Path) -> None:
    a = load(path)
    b = mutate(a, random.Random(path.name))
    check(run_or_skip(a, b))


@st.composite
def edited_nets(draw: st.DrawFn) -> tuple[Net, Net]:
    net = draw(nets())
    return net, draw(edits(net))


def pass_rate(edits_per_file: int = 5) -> None:
    """Print how many pairs are expressible and how many of those converge."""
    cases: list[tuple[str, Config, Config]] = [(f"{a} -> {b}", load(a), load(b)) for a, b in PAIRS]
    for path in corpus_exports():
        config = load(path)
        for n in range(edits_per_file):
            cases.append((f"{path.name} edit {n}", config, mutate(config, random.Random(n))))
    expressible = converged = blocked = 0
    for name, a, b in cases:
        try:
            outcome = run(a, b)
        except (AssertionError, ValueError) as exc:
            print(f"cannot load {name}: {str(exc)[:200]}")
            continue
        if not outcome.patch.ok:
            print(f"not expressible {name}: {outcome.patch.unsupported[0]}")
            continue
        expressible += 1
        converged += outcome.converged
        if not outcome.converged:
            missing = [why for marker, why in gaps().items() if needs(outcome.patch, marker)]
            blocked += bool(missing)
            reason = f"simulator cannot {'; '.join(missing)}" if missing else describe(outcome)
            print(f"NOT CONVERGED {name}: {reason[:1500]}")
    print(
        f"{len(cases)} pairs; patch expressible: {expressible}; converged on the simulator: "
        f"{converged}/{expressible}; not converged because of known simulator gaps: {blocked}"
    )


if __name__ == "__main__":
    pass_rate()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edited_nets())
def test_generated_edit_converges_on_the_simulator(pair: tuple[Net, Net]) -> None:
    """Generated configs and edits (renames, moves, odd characters) on the simulator.

    Examples whose patch needs RouterOS behaviour the simulator lacks (see
    :func:`simulator_gaps`) are checked on the script oracle only.
    """
    a, b = (n.render() for n in pair)
    outcome = asyncio.run(converge(a, b, ports=ETHERS))
    assert outcome.patch.ok, [str(u) for u in outcome.patch.unsupported]
    if any(needs(outcome.patch, marker) for marker in gaps()):
        assert diff(apply(a, outcome.patch.script), b).empty
        return
    assert outcome.converged, describe(outcome)
