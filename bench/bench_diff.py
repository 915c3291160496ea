"""Semantic diff + patch of two large firewalls, beside ``difflib`` on the same inputs.

Two configs with N firewall filter rules each (default 5,000) plus 200 address-list
entries: the new one has some rules moved, changed, added and removed. The
baseline, measured in the same run on the same export text, is
``difflib.unified_diff`` over the lines (what Oxidized-style line diffs do). The table
shows each stage's time and its ratio to the baseline. Goal: diff + patch under 1 s.

Run: ``python bench/bench_diff.py [--rules N] [--repeat N] [--seed N]``.
"""

from __future__ import annotations

import argparse
import difflib
import random
import sys
import time
from collections.abc import Callable

from tikguard.routeros.diff import diff
from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.parse import parse
from tikguard.routeros.patch import diff_and_patch, make_patch
from tikguard.routeros.serialise import serialise


def rule(rng: random.Random, n: int) -> Command:
    props = [
        Prop("action", rng.choice(["accept", "drop", "reject", "jump"])),
        Prop("chain", rng.choice(["input", "forward", "forward", "forward"])),
    ]
    if rng.random() < 0.7:
        props.append(Prop("comment", f"rule {n} {rng.choice(['web', 'ssh', 'voip', 'vpn'])}"))
    if rng.random() < 0.6:
        props.append(Prop("dst-port", str(rng.randrange(1, 65535))))
    props.append(Prop("protocol", rng.choice(["tcp", "udp"])))
    if rng.random() < 0.5:
        props.append(Prop("src-address", f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24"))
    if rng.random() < 0.2:
        props.append(Prop("src-address-list", f"list{rng.randrange(20)}"))
    return Command("add", tuple(sorted(props, key=lambda p: p.key)))


def configs(rules: int, seed: int) -> tuple[Config, Config, dict[str, int]]:
    rng = random.Random(seed)
    old_rules = [rule(rng, n) for n in range(rules)]
    new_rules = list(old_rules)
    edits = max(1, rules // 50)  # 2% of the rules per kind of edit
    for _ in range(edits):  # moves
        new_rules.insert(
            rng.randrange(len(new_rules)), new_rules.pop(rng.randrange(len(new_rules)))
        )
    for _ in range(edits):  # changes
        at = rng.randrange(len(new_rules))
        props = [p for p in new_rules[at].props if p.key != "dst-port"]
        new_rules[at] = Command("add", (*props, Prop("dst-port", str(rng.randrange(1, 65535)))))
    for _ in range(edits):  # removals
        new_rules.pop(rng.randrange(len(new_rules)))
    for n in range(edits):  # additions
        new_rules.insert(rng.randrange(len(new_rules)), rule(rng, rules + n))
    lists = [
        Command("add", (Prop("address", f"192.0.2.{n % 250}"), Prop("list", f"list{n % 20}")))
        for n in range(200)
    ]
    eth = [Command("set", (Prop("comment", f"port {n}"),), None) for n in range(0)]

    def build(filter_rules: list[Command]) -> Config:
        menus = [
            Menu("/ip firewall address-list", list(lists)),
            Menu("/ip firewall filter", filter_rules),
        ]
        if eth:
            menus.append(Menu("/interface ethernet", eth))
        return Config(menus)

    return (
        build(old_rules),
        build(new_rules),
        {"moves": edits, "changes": edits, "adds": edits, "removes": edits},
    )


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    old, new, edits = configs(args.rules, args.seed)
    old_text, new_text = serialise(old), serialise(new)
    old_lines, new_lines = old_text.splitlines(), new_text.splitlines()
    old_parsed, new_parsed = parse(old_text), parse(new_text)

    def line_diff() -> object:
        return list(difflib.unified_diff(old_lines, new_lines, lineterm=""))

    def both() -> object:
        return diff(old_parsed, new_parsed), make_patch(old_parsed, new_parsed)

    base = best_of(line_diff, args.repeat)
    rows = [
        ("difflib.unified_diff (baseline)", base),
        ("semantic diff", best_of(lambda: diff(old_parsed, new_parsed), args.repeat)),
        ("patch", best_of(lambda: make_patch(old_parsed, new_parsed), args.repeat)),
        ("diff() + make_patch()", best_of(both, args.repeat)),
        (
            "diff_and_patch() (one matching)",
            best_of(lambda: diff_and_patch(old_parsed, new_parsed), args.repeat),
        ),
        (
            "parse both + diff_and_patch()",
            best_of(lambda: diff_and_patch(parse(old_text), parse(new_text)), args.repeat),
        ),
    ]
    patch = make_patch(old_parsed, new_parsed)
    summary = diff(old_parsed, new_parsed).summary()
    print(
        f"{args.rules} rules per side; edits made: {edits}; "
        f"diff found: {summary}; patch: {patch.command_count} commands, ok={patch.ok}"
    )
    print(f"{'stage (best of ' + str(args.repeat) + ')':<36} {'seconds':>9} {'x difflib':>10}")
    for name, seconds in rows:
        print(f"{name:<36} {seconds:>9.3f} {seconds / base:>10.2f}")
    goal = dict(rows)["diff_and_patch() (one matching)"]
    print(f"goal diff + patch < 1 s: {'met' if goal < 1.0 else 'NOT met'} ({goal:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
