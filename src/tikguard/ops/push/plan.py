"""Planning a push (no device writes): the script, the semantic diff, the risk tags.

* restore: the patch from the running config to a stored version, secrets put back;
* merge: the operator's snippet as given; the diff shown is running vs the snippet
  applied to the running config item by item (:func:`apply_snippet`: a singleton's
  ``set`` changes that singleton, ``set``/``remove`` on ``[ find ... ]`` the items it
  selects, ``add`` adds), an estimate where RouterOS decides the final state;
* replace: the whole target, applied after ``/system reset-configuration``.

Convergence after a push is judged here too: restore/replace compare the read-back
config with the target semantically (:func:`remaining_differences`, which ignores
console-only lines such as ``:delay`` an export never shows); a merge checks that every
``add``/``set`` of the snippet is present in the read-back config.

A plan's ``script`` is what the router gets (secrets included); ``shown_script`` is the
same script for screens, every secret value replaced by ``(hidden)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tikguard.ops.push.results import Mode, PlanJson
from tikguard.routeros.diff import diff, remaining_differences
from tikguard.routeros.errors import ParseError
from tikguard.routeros.items import HIDDEN
from tikguard.routeros.model import Command, Config, ExportMeta, Menu, Prop, Selector
from tikguard.routeros.parse import parse
from tikguard.routeros.patch import diff_and_patch
from tikguard.routeros.risk import RiskJson, assess, assess_script, merge_tags
from tikguard.routeros.schema import NEVER_EXPORTED
from tikguard.routeros.secrets import hide_script_secrets, split_secrets
from tikguard.routeros.serialise import serialise


@dataclass(frozen=True)
class Plan:
    """What a push will send and what it changes. ``script`` may hold secrets."""

    mode: Mode
    script: str = field(repr=False)
    diff_text: str
    diff_summary: dict[str, int]
    risk: list[RiskJson]
    #: Changes the patch cannot express (restore): push with ``replace`` instead.
    unsupported: list[str]
    #: ``script`` with every secret value shown as ``(hidden)``: what screens show.
    shown_script: str = field(default="", repr=False)

    @property
    def risky(self) -> bool:
        return bool(self.risk)

    def as_json(self) -> PlanJson:
        """The plan without the script (which may carry secrets)."""
        return PlanJson(
            mode=self.mode,
            diff=self.diff_text,
            summary=self.diff_summary,
            risk=self.risk,
            unsupported=self.unsupported,
            script_lines=len(self.script.splitlines()),
        )


def _selects(selector: Selector, command: Command) -> bool:
    """Whether ``selector`` (``[ find k=v ... ]`` or a bare name) picks the item that
    ``command`` (an ``add``, or a ``set`` on a built-in item) describes."""
    if command.verb == "add":
        values = {p.key: p.value for p in command.props}
    elif command.selector is not None and command.selector.find is not None:
        values = {p.key: p.value for p in (*command.selector.find, *command.props)}
    else:
        return False
    if selector.ref is not None:
        return values.get("name") == selector.ref
    if not selector.find:
        return False  # [ find ] selects every item: left to the router
    return all(p.value is not None and values.get(p.key) == p.value for p in selector.find)


def _set_props(command: Command, cmd: Command) -> Command:
    """``command`` with what ``cmd`` (``set``/``enable``/``disable``) writes onto it."""
    written = list(cmd.props)
    if cmd.verb != "set":
        written = [Prop("disabled", "yes" if cmd.verb == "disable" else "no")]
    keys = {p.key for p in written}
    kept = [p for p in command.props if p.key not in keys]
    return replace(command, props=(*kept, *(p for p in written if p.value is not None)))


def apply_snippet(running: Config, snippet: Config) -> Config:
    """What the running config becomes with the snippet applied, as far as we can tell.

    A singleton's ``set`` (``/ip dns set servers=...``) changes the singleton;
    ``set``/``enable``/``disable``/``remove`` on ``[ find k=v ]`` or a name change or
    remove the items they select (both the ``add``ed ones and the built-in ones); ``add``
    adds. A command that selects nothing we know, and any other command, is kept as
    written (shown as a command in the diff): the router is the authority on it.
    """
    menus = [Menu(m.path, list(m.commands)) for m in running.menus]
    for menu in snippet.menus:
        blocks = [m for m in menus if m.path == menu.path]
        if not blocks:
            blocks = [Menu(menu.path, [])]
            menus.append(blocks[0])
        for cmd in menu.commands:
            if not _apply_one(blocks, cmd):
                blocks[-1].commands.append(cmd)
    return Config(menus=[m for m in menus if m.commands or not m.path], meta=running.meta)


def _apply_one(blocks: list[Menu], cmd: Command) -> bool:
    """Apply ``cmd`` to the commands already in ``blocks``; False when it selects none."""
    if cmd.selector is None and cmd.verb == "set":
        for block in reversed(blocks):
            for i in range(len(block.commands) - 1, -1, -1):
                have = block.commands[i]
                if have.verb == "set" and have.selector is None:
                    block.commands[i] = _set_props(have, cmd)
                    return True
        return False
    if cmd.selector is None or cmd.verb not in ("set", "enable", "disable", "remove"):
        return False
    hit = False
    for block in blocks:
        kept: list[Command] = []
        for have in block.commands:
            if not _selects(cmd.selector, have):
                kept.append(have)
                continue
            hit = True
            if cmd.verb != "remove":
                kept.append(_set_props(have, cmd))
            elif have.verb != "add":
                kept.append(have)  # a built-in item cannot be removed
        block.commands[:] = kept
    return hit


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


def shown_script(script: str) -> str:
    """``script`` for a screen: every secret value (sensitive and confidential
    properties, credentials inside script text) replaced by ``(hidden)``.

    Where the script does not parse (a merge snippet may use any syntax), credentials
    are found in the text as in script properties (``password=``, ``secret=``, ...).
    """
    try:
        config = parse(script, source="script")
    except ParseError:
        return hide_script_secrets(script, HIDDEN)
    redacted, secrets = split_secrets(config)
    if not secrets:
        return script
    tags = sorted(secrets, key=len, reverse=True)

    def hide(value: str | None) -> str | None:
        if value is None:
            return None
        for tag in tags:
            value = value.replace(tag, HIDDEN)
        return value

    menus = [
        Menu(
            m.path,
            [
                replace(c, props=tuple(replace(p, value=hide(p.value)) for p in c.props))
                for c in m.commands
            ],
        )
        for m in redacted.menus
    ]
    return serialise(Config(menus=menus, meta=ExportMeta()), include_header=False, width=None)


def plan_restore(running_text: str, target_text: str) -> Plan:
    """Patch from ``running_text`` to ``target_text`` (both normalised, with secrets);
    the diff and the patch come from one matching."""
    running, target = parse(running_text), parse(target_text)
    change, patch = diff_and_patch(running, target)
    return Plan(
        mode="restore",
        script=patch.script,
        diff_text=change.to_text(),
        diff_summary=change.summary(),
        risk=[tag.as_json() for tag in assess(running, target, change)],
        unsupported=[str(u) for u in patch.unsupported],
        shown_script=shown_script(patch.script),
    )


def plan_merge(running_text: str, snippet: str) -> Plan:
    running = parse(running_text)
    extra, skipped = parse_snippet(snippet)
    target = apply_snippet(running, extra)
    change = diff(running, target)
    script = snippet if snippet.endswith("\n") else snippet + "\n"
    return Plan(
        mode="merge",
        script=script,
        shown_script=shown_script(script),
        diff_text=change.to_text(),
        diff_summary=change.summary(),
        risk=[
            tag.as_json()
            for tag in merge_tags(
                assess_script(extra, skipped, snippet), assess(running, target, change)
            )
        ],
        unsupported=[],
    )


def plan_replace(running_text: str, target_text: str) -> Plan:
    running, target = parse(running_text), parse(target_text)
    change = diff(running, target)
    script = target_text if target_text.endswith("\n") else target_text + "\n"
    return Plan(
        mode="replace",
        script=script,
        diff_text=change.to_text(),
        diff_summary=change.summary(),
        risk=[tag.as_json() for tag in assess(running, target, change)],
        unsupported=[],
        shown_script=shown_script(script),
    )


def without_scheduler(config: Config, name: str | tuple[str, ...] | None) -> Config:
    """``config`` without the push's own revert scheduler items (armed while verifying)."""
    if name is None:
        return config
    ours = {name} if isinstance(name, str) else set(name)
    menus = []
    for menu in config.menus:
        commands = menu.commands
        if menu.path == "/system scheduler":
            commands = [c for c in commands if c.get("name") not in ours]
        if commands or menu.path != "/system scheduler":
            menus.append(Menu(menu.path, list(commands)))
    return Config(menus=menus, meta=config.meta)


def converged_to(
    after_text: str, target_text: str, *, ignore_scheduler: str | tuple[str, ...] | None = None
) -> tuple[bool, str]:
    """Restore/replace: the read-back config equals the target (semantically), apart
    from the push's own revert scheduler."""
    after = without_scheduler(parse(after_text), ignore_scheduler)
    target = parse(target_text)
    # menus an export never has are verified by a print (push_unexported)
    target = Config([m for m in target.menus if m.path not in NEVER_EXPORTED], target.meta)
    remaining = remaining_differences(after, target)
    if not remaining:
        return True, "running config equals the target"
    shown = remaining[:20] + ([f"... {len(remaining) - 20} more"] if len(remaining) > 20 else [])
    return False, "running config differs from the target:\n" + "\n".join(shown)


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
        if menu.path in NEVER_EXPORTED:
            continue  # never in an export: verified by a print (push_unexported)
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
