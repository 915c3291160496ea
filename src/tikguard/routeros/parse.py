"""Parse ``/export`` text (compact, terse or verbose; RouterOS 5.x to 7.x) into a Config.

The input may come straight from an SSH session: it is cleaned the way
:mod:`tikguard.routeros.normalise` does, so ``parse(x) == parse(normalise(x))`` apart
from the volatile date, which only ``parse(x)`` sees (``meta.exported_at``).

Shapes understood:

* a menu line ``/ip firewall filter`` followed by commands (compact, verbose), or the
  path in front of every command (terse: ``/ip firewall filter add chain=input``);
  consecutive terse lines on one path form one menu block;
* ``add``/``set``/... with ``key=value`` properties, verbose ``!key`` (not set), dotted
  properties and RouterOS's shorthand for consecutive ones (``local.address=1.2.3.4
  .role=ibgp`` is ``local.role``), selectors ``[ find default-name=ether1 ]``, internal
  ids ``*0`` / ``*FFFFFFFE``, 5.x print numbers ``set 0`` and names ``set telnet``;
* global commands such as ``:delay 5`` (kept in the current block, or in a block with
  the empty path before the first menu line);
* ``#`` lines RouterOS prints between commands, kept as the next command's ``notes``
  (transient ones are dropped, see :data:`tikguard.routeros.normalise.TRANSIENT`).
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

from tikguard.routeros.errors import ParseError
from tikguard.routeros.lexer import LogicalLine, Word, clean_lines, logical_lines, split_words
from tikguard.routeros.model import Command, Config, ExportMeta, Menu, Prop, Selector
from tikguard.routeros.normalise import DATE_LINE, PROMPT, is_transient

#: Words that end a menu path: the commands RouterOS menus accept in exports and scripts.
VERBS: Final = frozenset(
    {
        "add",
        "set",
        "remove",
        "move",
        "enable",
        "disable",
        "unset",
        "comment",
        "edit",
        "print",
        "export",
        "import",
        "find",
        "get",
        "reset",
    }
)
#: Verbs whose first positional word (or ``[ find ... ]``) says which item they act on.
SELECTOR_VERBS: Final = frozenset(
    {"set", "remove", "move", "enable", "disable", "unset", "comment", "edit", "reset", "get"}
)
_MENU_WORD: Final = re.compile(r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*")
#: A line :meth:`_Parser._plain` may take: nothing the general tokeniser must decode.
_PLAIN: Final = re.compile(r"[^\\\[\]!#;{}]+")
#: A word of such a line: bare characters and paired quotes (no escapes inside).
_PLAIN_WORD: Final = re.compile(r'(?:[^\s"]++|"[^"]*+")++')
_QUOTED_PART: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_META_LINE: Final = re.compile(r"^#\s*(software id|model|serial number|system id)\s*=\s*(.*)$")
_META_FIELDS: Final = MappingProxyType(
    {
        "software id": "software_id",
        "model": "model",
        "serial number": "serial_number",
        "system id": "system_id",
    }
)


def parse(text: str, source: str | None = None) -> Config:
    """Parse export text into a :class:`Config`; ``source`` names the file in errors.

    Raises :class:`ParseError` with the physical line and column of the problem.
    """
    try:
        physical = clean_lines(text)
        if physical and not physical[-1]:
            physical.pop()  # the final newline ends the last line, as in normalise()
        return _Parser(physical).run()
    except ParseError as exc:
        if source is not None:
            raise exc.located(source) from None
        raise


def _continues(line: str) -> bool:
    return line.endswith("\\") and (len(line) - len(line.rstrip("\\"))) % 2 == 1


class _Parser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.menus: list[Menu] = []
        self.current: Menu | None = None
        self.notes: list[str] = []
        self.terse = False
        self.unset_seen = False
        self.shorthand = False
        self.longhand = False
        self.terse_block = False
        #: Equal properties share one (immutable) Prop: exports repeat ``disabled=no``,
        #: ``chain=forward`` ... thousands of times, and building a frozen dataclass
        #: costs more than a dictionary lookup.
        self.props: dict[tuple[str, str | None], Prop] = {}

    def run(self) -> Config:
        body_start, meta = self._header()
        body = self._body_lines(body_start)
        numbers = [number for number, _ in body]
        for logical in logical_lines([line for _, line in body], numbers=numbers):
            self._line(logical)
        # Notes after the last command describe nothing that follows; they are dropped.
        style = "terse" if self.terse else ("verbose" if self.unset_seen else "compact")
        width = _wrap_width([line for _, line in body])
        meta = ExportMeta(
            ros_version=meta.ros_version,
            exported_at=meta.exported_at,
            model=meta.model,
            serial_number=meta.serial_number,
            software_id=meta.software_id,
            system_id=meta.system_id,
            style=style,
            header=meta.header,
            wrap_width=None if self.terse else width,
            dotted_shorthand=True if self.shorthand else (False if self.longhand else None),
        )
        return Config(menus=self.menus, meta=meta)

    def _header(self) -> tuple[int, ExportMeta]:
        """Read the leading comment block: date line and device metadata."""
        fields: dict[str, str | None] = {}
        header: list[str] = []
        index = 0
        seen = False
        while index < len(self.lines):
            line = self.lines[index]
            if not line or PROMPT.match(line):
                index += 1
                continue
            if not line.startswith("#"):
                break
            date = DATE_LINE.match(line) if not seen else None
            if date:
                fields["exported_at"] = f"{date.group('date')} {date.group('time')}"
                fields["ros_version"] = date.group("version")
            else:
                meta = _META_LINE.match(line)
                if meta:
                    fields[_META_FIELDS[meta.group(1)]] = meta.group(2).strip()
                elif line.strip() != "#":
                    break  # an ordinary comment: the body starts here
                header.append(line)
            seen = True
            index += 1
        return index, ExportMeta(
            ros_version=fields.get("ros_version"),
            exported_at=fields.get("exported_at"),
            model=fields.get("model"),
            serial_number=fields.get("serial_number"),
            software_id=fields.get("software_id"),
            system_id=fields.get("system_id"),
            header=tuple(header) if seen else None,
        )

    def _body_lines(self, start: int) -> list[tuple[int, str]]:
        """(physical number, text) of body lines, without blanks, prompts, transients."""
        out: list[tuple[int, str]] = []
        continued = False
        header = True  # before the first command, as normalise() sees it
        for index in range(start, len(self.lines)):
            line = self.lines[index]
            if not continued and (not line or PROMPT.match(line) or is_transient(line)):
                continue
            if header and not continued:
                if line[0] != "#":
                    header = False
                elif DATE_LINE.match(line):
                    continue  # a repeated date line: normalise() drops it too
            out.append((index + 1, line))
            continued = line[-1:] == "\\" and _continues(line)
        return out

    def _target(self, path: str) -> Menu:
        if self.current is None or self.current.path != path:
            self.current = Menu(path=path)
            self.menus.append(self.current)
        return self.current

    def _line(self, logical: LogicalLine) -> None:
        text = logical.text
        if text[:1] in (" ", "\t"):
            text = text.lstrip(" \t")  # an indented comment is still a comment
        if text.startswith("#"):
            self.notes.append(text[1:])
            return
        if _PLAIN.fullmatch(text) and self._plain(text):
            return
        words = split_words(logical)
        if not words:
            return
        first = words[0]
        if first.kind == "word" and first.raw.startswith("/"):
            path, rest = _menu_path(words, logical)
            if not rest:
                if not path:
                    # A bare ``/`` returns to the root menu: no block of its own (only
                    # global commands such as ``:delay`` may follow).
                    self.current = None
                    self.terse_block = False
                    return
                if not (self.terse_block and self.current and self.current.path == path):
                    # (Terse output prints a command with notes in the compact layout;
                    # it still belongs to the same block.)
                    self.current = Menu(path=path)
                    self.menus.append(self.current)
                self.terse_block = False
                return
            if not path and not rest[0].raw.startswith(":"):
                raise logical.error(
                    f"expected a menu path after '/', found {rest[0].raw!r}",
                    rest[0].offset,
                    hint="only global commands such as :delay run at the root menu",
                )
            self.terse = True
            target = self._target(path)
            self.terse_block = True
            self._command(target, rest, logical)
            return
        if self.current is None:
            if first.kind == "word" and first.raw.startswith(":"):
                self._command(self._target(""), words, logical)
                return
            raise logical.error(
                f"command {first.raw!r} before any menu line",
                first.offset,
                hint="an export starts each section with a menu path such as /ip address",
            )
        self._command(self.current, words, logical)

    def _plain(self, text: str) -> bool:
        """The common line (``add``/``set`` with plain ``key=value`` words, compact or
        terse) without the general tokeniser; False leaves the line to :meth:`_line`.

        Only lines with no escape, bracket, ``!``, ``#``, ``;``, brace or dotted key get
        here, and quotes only in pairs, so the words are the lexer's and a quoted
        value needs nothing but its quotes removed.
        """
        if '"' in text:
            if text.count('"') % 2:
                return False
            words = _PLAIN_WORD.findall(text)
        else:
            words = text.split()
        if not words:
            return False
        index = 0
        path = None
        if words[0][0] == "/":
            parts = words[0][1:].split("/") if len(words[0]) > 1 else []
            index = 1
            while index < len(words) and words[index] not in VERBS:
                parts.append(words[index])
                index += 1
            if index == len(words) or not parts:
                return False
            if not all(_MENU_WORD.fullmatch(part) for part in parts):
                return False
            path = "/" + " ".join(parts)
        elif self.current is None:
            return False
        verb = words[index]
        if verb != "add" and verb != "set":
            return False
        index += 1
        selector = None
        if verb == "set" and index < len(words) and "=" not in words[index]:
            ref = _unquote(words[index])
            if ref is None:
                return False
            selector = Selector(ref=ref)
            index += 1
        interned = self.props
        props: list[Prop] = []
        for word in words[index:]:
            equals = word.find("=")
            if equals <= 0 or "." in word[:equals] or '"' in word[:equals]:
                return False
            value = _unquote(word[equals + 1 :])
            if value is None:
                return False
            pair = (word[:equals], value)
            prop = interned.get(pair)
            if prop is None:
                prop = interned[pair] = Prop(pair[0], pair[1])
            props.append(prop)
        if path is not None:
            self.terse = True
            menu = self._target(path)
            self.terse_block = True
        else:
            assert self.current is not None
            menu = self.current
        notes = tuple(self.notes)
        self.notes = []
        menu.commands.append(Command(verb=verb, props=tuple(props), selector=selector, notes=notes))
        return True

    def _command(self, menu: Menu, words: list[Word], logical: LogicalLine) -> None:
        verb_word = words[0]
        if verb_word.kind != "word":
            raise logical.error(
                f"expected a command such as add or set, found {verb_word.raw!r}",
                verb_word.offset,
            )
        verb = verb_word.raw
        selector: Selector | None = None
        props: list[Prop] = []
        args: list[str] = []
        index = 1
        if verb in SELECTOR_VERBS and index < len(words):
            word = words[index]
            if word.kind == "open":
                selector, index = _find_selector(words, index, logical)
            elif word.kind == "word":
                selector = Selector(ref=word.value)
                index += 1
        prefix: str | None = None
        text = logical.text
        check = ";" in text or "{" in text or "}" in text or "#" in text
        interned = self.props
        for word in words[index:]:
            if check:
                _reject_script_syntax(word, logical)
            if word.kind == "prop":
                key = word.key or ""
                if "." in key:
                    if key[0] == ".":
                        self.shorthand = True
                        if prefix is None:
                            raise logical.error(
                                f"property {key!r} continues a dotted property, "
                                "but none precedes it",
                                word.offset,
                            )
                        key = prefix + key
                    dot = key.rfind(".")
                    own = key[:dot] if dot > 0 else None
                    if own is not None and own == prefix and not word.raw.startswith("."):
                        self.longhand = True
                    prefix = own
                else:
                    prefix = None
                pair = (key, word.value)
                prop = interned.get(pair)
                if prop is None:
                    prop = interned[pair] = Prop(key, word.value)
                props.append(prop)
            elif word.kind == "unset":
                self.unset_seen = True
                props.append(Prop(word.key or "", None))
            elif word.kind == "word":
                if not verb.startswith(":") and _MENU_WORD.fullmatch(word.raw):
                    props.append(Prop(word.raw, "", flag=True))
                    prefix = None
                elif verb in ("add", "set"):
                    raise logical.error(
                        f"unexpected word {word.raw!r} after {verb}",
                        word.offset,
                        hint=f"{verb} takes key=value properties (and 7.x flag words)",
                    )
                else:
                    args.append(word.value or "")
            else:
                raise logical.error(f"unexpected {word.raw!r}", word.offset)
        notes = tuple(self.notes)
        self.notes = []
        menu.commands.append(
            Command(verb=verb, props=tuple(props), selector=selector, args=tuple(args), notes=notes)
        )


def _unquote(word: str) -> str | None:
    """A plain word's value: bare, or one quoted segment; None for anything else."""
    if '"' not in word:
        return word
    if len(word) >= 2 and word[0] == '"' and word[-1] == '"' and word.count('"') == 2:
        return word[1:-1]
    return None


def _reject_script_syntax(word: Word, logical: LogicalLine) -> None:
    """Refuse console syntax that an export never contains outside quotes.

    ``;`` (two commands on one line), ``{ }`` (script blocks) and a ``#`` comment after
    a command would otherwise be read as odd words and silently change the meaning.
    """
    raw = word.raw
    start = len(word.key) + 1 if word.kind == "prop" and word.key else 0
    if ";" not in raw and raw[start : start + 1] not in ("{", "}") and raw[0] != "#":
        return
    bare = _QUOTED_PART.sub('""', raw)
    at = bare.find(";")
    if at >= 0:
        raise logical.error(
            "';' joins two commands on one line",
            word.offset + at,
            hint="an export has one command per line; quote a value that contains ';'",
        )
    if raw[start : start + 1] in ("{", "}"):
        raise logical.error(
            f"script block {raw[start]!r} outside a quoted value",
            word.offset + start,
            hint='exports carry scripts as quoted strings (source="...")',
        )
    if raw[0] == "#":
        raise logical.error(
            "'#' comment after a command",
            word.offset,
            hint="RouterOS reads '#' as a comment only at the start of a line",
        )


def _menu_path(words: list[Word], logical: LogicalLine) -> tuple[str, list[Word]]:
    """Split ``/ip firewall filter add ...`` into the path and the command words."""
    first = words[0].raw
    # ``/ip firewall filter`` as exports write it, or ``/ip/firewall/filter`` (7.x scripts).
    parts = first[1:].split("/") if len(first) > 1 else []
    if not all(_MENU_WORD.fullmatch(part) for part in parts):
        raise logical.error(f"not a menu path: {first!r}", words[0].offset)
    index = 1
    while index < len(words):
        word = words[index]
        if word.kind != "word" or word.raw in VERBS or not _MENU_WORD.fullmatch(word.raw):
            break
        parts.append(word.raw)
        index += 1
    return ("/" + " ".join(parts) if parts else ""), words[index:]


def _find_selector(words: list[Word], index: int, logical: LogicalLine) -> tuple[Selector, int]:
    """Parse ``[ find key=value ... ]`` starting at the ``[``; returns the index after ``]``."""
    opening = words[index]
    index += 1
    if index >= len(words) or words[index].raw != "find":
        raise logical.error(
            "a selector must be [ find ... ]",
            opening.offset,
            hint="e.g. [ find default-name=ether1 ]",
        )
    index += 1
    if index < len(words) and words[index].kind == "word" and words[index].raw == "where":
        index += 1
    props: list[Prop] = []
    while index < len(words):
        word = words[index]
        if word.kind == "close":
            return Selector(find=tuple(props)), index + 1
        if word.kind != "prop":
            raise logical.error(
                f"unsupported expression {word.raw!r} in [ find ... ]",
                word.offset,
                hint="only key=value conditions are understood",
            )
        props.append(Prop(word.key or "", word.value))
        index += 1
    raise logical.error("[ find ... ] is not closed with ]", opening.offset)


def _wrap_width(lines: list[str]) -> int | None:
    """The terminal width an export was wrapped at, or None when nothing was wrapped."""
    wrapped = [len(line) for line in lines if line[-1:] == "\\" and _continues(line)]
    if not wrapped:
        # Lines longer than a terminal and no wrapping: exported without a terminal.
        return 0 if any(len(line) > 80 for line in lines) else None
    longest = max(wrapped)
    return 80 if longest <= 80 else longest + 1


__all__ = ["SELECTOR_VERBS", "VERBS", "ParseError", "parse"]
