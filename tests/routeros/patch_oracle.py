"""A tiny, strict model of a RouterOS device that runs patch scripts (test oracle only).

It loads a Config, executes the commands a patch writes (``add`` with
``place-before``, ``set``, ``unset value-name=``, ``remove``, ``move`` with or without
``destination``, ``[ find ... ]`` and ``[ :pick [ find dynamic=no ] N ]``), and gives
the result back as a Config. It is stricter than RouterOS on purpose: a selector that
matches nothing or more than one item is an error, so a patch that relies on luck
fails here. The simulator is the real test; this keeps the property tests fast and
independent of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tikguard.routeros.items import depends, version_fill
from tikguard.routeros.lexer import Word, split_words
from tikguard.routeros.model import Command, Config, ExportMeta, Menu, Prop, Selector
from tikguard.routeros.schema import lookup


class OracleError(AssertionError):
    pass


@dataclass(eq=False)
class _Thing:
    props: dict[str, str]
    #: ``default-name=...`` style selector props of a built-in item, or its bare ref.
    selector: dict[str, str] = field(default_factory=dict)
    ref: str | None = None
    flags: set[str] = field(default_factory=set)
    #: What the device's version gives an added item that does not say (6.x: DHCP
    #: clients added disabled); the real device's value, never exported.
    base: dict[str, str] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return bool(self.selector) or self.ref is not None

    def value(self, path: str, key: str) -> str | None:
        if key in self.props:
            return self.props[key]
        if key in self.selector:
            return self.selector[key]
        if key in self.flags:
            return "yes"
        if key in self.base:
            return self.base[key]
        schema = lookup(path)
        if key in schema.defaults:
            return schema.defaults[key]
        if key == "comment":
            return ""
        if key == "name" and "default-name" in self.selector:
            return self.selector["default-name"]
        if key == "disabled" and not self.builtin:
            return "no"
        return None


@dataclass
class Device:
    menus: dict[str, list[_Thing]] = field(default_factory=dict)
    singletons: dict[str, dict[str, str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    meta: ExportMeta = field(default_factory=ExportMeta)

    # -- loading ------------------------------------------------------------------
    @classmethod
    def load(cls, config: Config) -> Device:
        device = cls(meta=config.meta)
        for menu in config.menus:
            for command in menu.commands:
                device._load(menu.path, command)
        return device

    def _base(self, path: str) -> dict[str, str]:
        return version_fill(lookup(path), self.meta.ros_version)

    def _touch(self, path: str) -> list[_Thing]:
        if path not in self.order:
            self.order.append(path)
        return self.menus.setdefault(path, [])

    def _load(self, path: str, command: Command) -> None:
        if command.verb.startswith(":"):
            return  # console commands (``:delay 5``) are not configuration
        items = self._touch(path)
        props = {p.key: p.value for p in command.props if p.value is not None and not p.flag}
        if command.verb == "add":
            flags = {p.key for p in command.props if p.flag} | set(command.args)
            items.append(_Thing(props, flags=flags, base=self._base(path)))
            return
        assert command.verb == "set", command
        sel = command.selector
        if sel is None and command.args:
            sel = Selector(ref=command.args[0])
        if sel is None:
            self.singletons.setdefault(path, {}).update(props)
            return
        if sel.find is not None:
            find = {p.key: p.value or "" for p in sel.find}
            hits = [t for t in items if all(t.value(path, k) == v for k, v in find.items())]
            if hits:
                hits[0].props.update(props)
            else:
                items.append(_Thing(props, selector=find))
            return
        for thing in items:
            if thing.ref == sel.ref or (thing.ref is None and thing.props.get("name") == sel.ref):
                thing.props.update(props)
                return
        items.append(_Thing(props, ref=sel.ref))

    # -- running a script ---------------------------------------------------------
    def run(self, script: str) -> None:
        path = ""
        for number, line in enumerate(script.splitlines(), 1):
            if not line.strip():
                continue
            if line.startswith("/"):
                path = line
                self._touch(path)
                continue
            try:
                self._execute(path, split_words(line))
            except OracleError as exc:
                raise OracleError(f"line {number}: {line!r}: {exc}") from None

    def _execute(self, path: str, words: list[Word]) -> None:
        verb = words[0].value
        rest = words[1:]
        target: list[_Thing] | None = None
        if rest and rest[0].kind == "open":
            target, rest = self._selector(path, rest)
        elif rest and rest[0].kind == "word" and verb in ("set", "unset", "remove", "move"):
            target = [self._by_ref(path, rest[0].value or "")]
            rest = rest[1:]
        props: dict[str, str] = {}
        refs: dict[str, _Thing] = {}
        flags: list[str] = []
        i = 0
        while i < len(rest):
            word = rest[i]
            if (
                word.kind == "prop"
                and word.value == ""
                and i + 1 < len(rest)
                and rest[i + 1].kind == "open"
            ):
                found, tail = self._selector(path, rest[i + 1 :])
                refs[word.key or ""] = self._one(found)
                i = len(rest) - len(tail)
                continue
            if word.kind == "prop":
                props[word.key or ""] = word.value or ""
            elif word.kind == "word":
                flags.append(word.value or "")
            else:
                raise OracleError(f"unexpected {word.raw}")
            i += 1
        getattr(self, "_" + (verb or ""))(path, target, props, refs, flags)

    def _selector(self, path: str, words: list[Word]) -> tuple[list[_Thing], list[Word]]:
        """``[ find k=v ... ]`` or ``[ :pick [ find dynamic=no ] N ]``; returns the rest."""
        assert words[0].kind == "open"
        head = words[1].value
        if head == "find":
            conds: dict[str, str] = {}
            i = 2
            while words[i].kind != "close":
                conds[words[i].key or ""] = words[i].value or ""
                i += 1
            return self._find(path, conds), words[i + 1 :]
        if head == ":pick":
            found, rest = self._selector(path, words[2:])
            index = int(rest[0].value or "")
            assert rest[1].kind == "close"
            if index >= len(found):
                raise OracleError(f"pick {index} of {len(found)}")
            return [found[index]], rest[2:]
        raise OracleError(f"unknown selector {head}")

    def _find(self, path: str, conds: dict[str, str]) -> list[_Thing]:
        items = self._touch(path)
        conds = {k: v for k, v in conds.items() if k != "dynamic"}
        found = [t for t in items if all(t.value(path, k) == v for k, v in conds.items())]
        default_key = lookup(path).default_key
        if not found and default_key is not None and list(conds) == [default_key]:
            # A built-in item the export left out (all defaults): the device has it.
            found = [_Thing({}, selector=dict(conds))]
            items.append(found[0])
        return found

    def _by_ref(self, path: str, ref: str) -> _Thing:
        for thing in self.menus.get(path, []):
            if thing.ref == ref or thing.props.get("name", thing.selector.get("name")) == ref:
                return thing
        thing = _Thing({}, ref=ref)
        self.menus.setdefault(path, []).append(thing)
        return thing

    def _one(self, found: list[_Thing] | None) -> _Thing:
        if found is None or len(found) != 1:
            raise OracleError(f"selector matched {0 if found is None else len(found)} items")
        return found[0]

    def _add(
        self,
        path: str,
        target: object,
        props: dict[str, str],
        refs: dict[str, _Thing],
        flags: list[str],
    ) -> None:
        items = self._touch(path)
        thing = _Thing(props, flags=set(flags), base=self._base(path))
        before = refs.get("place-before")
        if before is None:
            items.append(thing)
        else:
            items.insert(items.index(before), thing)

    def _set(
        self,
        path: str,
        target: list[_Thing] | None,
        props: dict[str, str],
        refs: dict[str, _Thing],
        flags: list[str],
    ) -> None:
        if target is None:
            self.singletons.setdefault(path, {}).update(props)
            return
        thing = self._one(target)
        old_name = thing.value(path, "name")
        for flag in flags:
            thing.flags.add(flag)
        for key, value in props.items():
            if value == "no" and key in thing.flags:
                thing.flags.discard(key)
            else:
                thing.props[key] = value
        new_name = thing.value(path, "name")
        if old_name and new_name and old_name != new_name:
            self._renamed(path, old_name, new_name)

    def _renamed(self, path: str, old: str, new: str) -> None:
        for other, items in self.menus.items():
            if not depends(other, path):
                continue
            for thing in items:
                for key, value in list(thing.props.items()):
                    if key in ("name", "comment"):
                        continue
                    words = value.split(",")
                    out = [("!" + new if w == "!" + old else new if w == old else w) for w in words]
                    thing.props[key] = ",".join(out)

    def _unset(
        self,
        path: str,
        target: list[_Thing] | None,
        props: dict[str, str],
        refs: dict[str, _Thing],
        flags: list[str],
    ) -> None:
        key = props["value-name"]
        if target is None:
            self.singletons.get(path, {}).pop(key, None)
            return
        self._one(target).props.pop(key, None)

    def _remove(
        self,
        path: str,
        target: list[_Thing] | None,
        props: dict[str, str],
        refs: dict[str, _Thing],
        flags: list[str],
    ) -> None:
        thing = self._one(target)
        if thing.builtin:
            raise OracleError("cannot remove a built-in item")
        self.menus[path].remove(thing)

    def _move(
        self,
        path: str,
        target: list[_Thing] | None,
        props: dict[str, str],
        refs: dict[str, _Thing],
        flags: list[str],
    ) -> None:
        thing = self._one(target)
        items = self.menus[path]
        destination = refs.get("destination")
        if destination is thing:
            return
        items.remove(thing)
        if destination is None:
            items.append(thing)
        else:
            items.insert(items.index(destination), thing)

    # -- back to a Config ---------------------------------------------------------
    def export(self) -> Config:
        menus: list[Menu] = []
        for path in self.order:
            commands: list[Command] = []
            if self.singletons.get(path):
                commands.append(
                    Command("set", tuple(Prop(k, v) for k, v in self.singletons[path].items()))
                )
            for thing in self.menus.get(path, []):
                props = tuple(Prop(k, v) for k, v in thing.props.items())
                if thing.selector:
                    sel = Selector(find=tuple(Prop(k, v) for k, v in thing.selector.items()))
                    commands.append(Command("set", props, sel))
                elif thing.ref is not None:
                    commands.append(Command("set", props, Selector(ref=thing.ref)))
                else:
                    flags = tuple(Prop(f, "", flag=True) for f in sorted(thing.flags))
                    commands.append(Command("add", props + flags))
            if commands:
                menus.append(Menu(path, commands))
        return Config(menus, self.meta)


def apply(config: Config, script: str) -> Config:
    """``config`` after running ``script`` on the oracle device."""
    device = Device.load(config)
    device.run(script)
    return device.export()
