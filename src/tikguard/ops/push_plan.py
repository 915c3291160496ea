"""Planning a push (no device writes): the script, the semantic diff, the risk tags.

* restore: the patch from the running config to a stored version, secrets put back;
* merge: the operator's snippet as given (the diff shown is running vs running plus
  the snippet's commands, an approximation: RouterOS decides the final state);
* replace: the whole target, applied after ``/system reset-configuration``.

Convergence after a push is judged here too: restore/replace compare the read-back
config with the target semantically; a merge checks that every ``add``/``set`` of the
snippet is present in the read-back config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tikguard.routeros.diff import diff
from tikguard.routeros.errors import ParseError
from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.parse import parse
from tikguard.routeros.patch import make_patch
from tikguard.routeros.risk import assess

MODES = ("merge", "restore", "replace")


@dataclass(frozen=True)
class Plan:
    """What a push will send and what it changes. ``script`` may hold secrets."""

    mode: str
    script: str = field(repr=False)
    diff_text: str
    diff_summary: dict[str, int]
    risk: list[dict[str, object]]
    #: Changes the patch cannot express (restore): push with ``replace`` instead.
    unsupported: list[str]

    @property
    def risky(self) -> bool:
        return bool(self.risk)

    def as_json(self) -> dict[str, object]:
        """The plan without the script (which may carry secrets)."""
        return {
            "mode": self.mode,
            "diff": self.diff_text,
            "summary": self.diff_summary,
            "risk": self.risk,
            "unsupported": self.unsupported,
            "script_lines": len(self.script.splitlines()),
        }


def _with_snippet(running: Config, snippet: Config) -> Config:
    """Running config with the snippet's commands appended menu by menu (approximate)."""
    menus = [Menu(m.path, list(m.commands)) for m in running.menus]
    by_path = {m.path: m for m in menus}
    for menu in snippet.menus:
        target = by_path.get(menu.path)
        if target is None:
            target = Menu(menu.path, [])
            menus.append(target)
            by_path[menu.path] = target
        target.commands.extend(menu.commands)
    return Config(menus=menus, meta=running.meta)


def parse_snippet(snippet: str, limit: int = 200) -> tuple[Config, list[str]]:
    """Parse an operator's script, leaving out lines our parser does not understand.

    A merge script may use any RouterOS syntax (``[ find address~"..." ]``); the router
    is the authority on it (``/import dry-run``, the import itself). What we cannot
    parse is only left out of the diff and the convergence check, and named.
    """
    lines = snippet.splitlines()
    skipped: list[str] = []
    for _ in range(limit):
        try:
            return parse("\n".join(lines) + "\n", source="snippet"), skipped
        except ParseError as exc:
            if exc.line is None or not 1 <= exc.line <= len(lines):
                break
            skipped.append(lines.pop(exc.line - 1).strip())
    return Config(), [*skipped, *lines]


def plan_restore(running_text: str, target_text: str) -> Plan:
    """Patch from ``running_text`` to ``target_text`` (both normalised, with secrets)."""
    running, target = parse(running_text), parse(target_text)
    patch = make_patch(running, target)
    change = diff(running, target)
    return Plan(
        mode="restore",
        script=patch.script,
        diff_text=change.to_text(),
        diff_summary=change.summary(),
        risk=[tag.as_json() for tag in assess(running, target, change)],
        unsupported=[str(u) for u in patch.unsupported],
    )


def plan_merge(running_text: str, snippet: str) -> Plan:
    running = parse(running_text)
    extra, skipped = parse_snippet(snippet)
    target = _with_snippet(running, extra)
    change = diff(running, target)
    return Plan(
        mode="merge",
        script=snippet if snippet.endswith("\n") else snippet + "\n",
        diff_text=change.to_text(),
        diff_summary=change.summary(),
        risk=[tag.as_json() for tag in assess(running, target, change)]
        + (
            [{"tag": "unanalysed", "title": "lines not analysed", "items": skipped}]
            if skipped
            else []
        ),
        unsupported=[],
    )


def plan_replace(running_text: str, target_text: str) -> Plan:
    running, target = parse(running_text), parse(target_text)
    change = diff(running, target)
    return Plan(
        mode="replace",
        script=target_text if target_text.endswith("\n") else target_text + "\n",
        diff_text=change.to_text(),
        diff_summary=change.summary(),
        risk=[tag.as_json() for tag in assess(running, target, change)],
        unsupported=[],
    )


def without_scheduler(config: Config, name: str | None) -> Config:
    """``config`` without the push's own revert scheduler (armed while verifying)."""
    if name is None:
        return config
    menus = []
    for menu in config.menus:
        commands = menu.commands
        if menu.path == "/system scheduler":
            commands = [c for c in commands if c.get("name") != name]
        if commands or menu.path != "/system scheduler":
            menus.append(Menu(menu.path, list(commands)))
    return Config(menus=menus, meta=config.meta)


def converged_to(
    after_text: str, target_text: str, *, ignore_scheduler: str | None = None
) -> tuple[bool, str]:
    """Restore/replace: the read-back config equals the target (semantically), apart
    from the push's own revert scheduler."""
    after = without_scheduler(parse(after_text), ignore_scheduler)
    change = diff(after, parse(target_text))
    if change.empty:
        return True, "running config equals the target"
    return False, "running config differs from the target:\n" + change.to_text()


def _has(commands: list[Command], cmd: Command) -> bool:
    wanted = {p.key: p.value for p in cmd.props}
    for have in commands:
        if have.verb not in ("add", "set"):
            continue
        props = {p.key: p.value for p in have.props}
        if all(props.get(k) == v for k, v in wanted.items()):
            return True
    return False


def merge_converged(after_text: str, snippet: str) -> tuple[bool, str]:
    """Merge: the snippet's effect is in the config: every ``add`` (unless the snippet
    removes something in that menu later) and the last value it ``set`` on singletons."""
    after = parse(after_text)
    extra, skipped = parse_snippet(snippet)
    missing: list[str] = []
    for menu in extra.menus:
        have = after.commands_in(menu.path)
        singleton: dict[str, str | None] = {}
        for i, cmd in enumerate(menu.commands):
            if cmd.verb == "set" and cmd.selector is None:
                singleton.update({p.key: p.value for p in cmd.props})
            elif cmd.verb == "add":
                removed_later = any(c.verb == "remove" for c in menu.commands[i + 1 :])
                if not removed_later and not _has(have, cmd):
                    shown = " ".join(f"{p.key}={p.value}" for p in cmd.props)
                    missing.append(f"{menu.path} add {shown}")
        if singleton:
            wanted = Command("set", tuple(Prop(k, v) for k, v in singleton.items()))
            if not _has(have, wanted):
                shown = " ".join(f"{k}={v}" for k, v in singleton.items())
                missing.append(f"{menu.path} set {shown}")
    if missing:
        return False, "not in the running config: " + "; ".join(missing[:5])
    note = f" ({len(skipped)} line(s) not analysable, judged by the import)" if skipped else ""
    return True, "every add/set of the snippet is in the running config" + note
