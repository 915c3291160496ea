"""The parsed form of a RouterOS configuration.

This is the contract between the parser, the serialiser, the diff/patch engine and
the simulator. Values are always *decoded* (RouterOS quoting and escapes removed);
:mod:`tikguard.routeros.quoting` turns them back into literals.

An export is a sequence of menu blocks (``/ip firewall filter``), each an ordered list
of commands. A menu path can occur more than once in one export (RouterOS prints
``/interface wireless`` twice when items depend on each other); the blocks keep their
order.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Prop:
    """One ``key=value`` argument, or a verbose export's ``!key`` (property not set)."""

    key: str
    value: str | None  # None only for ``!key``
    #: A RouterOS 7 flag written as a bare word (``passive``, ``no-summaries``); its
    #: value is ``""``.
    flag: bool = False

    @property
    def unset(self) -> bool:
        return self.value is None


@dataclass(frozen=True, slots=True)
class Selector:
    """Which existing item a ``set``/``remove``/``move``/... addresses.

    Exactly one form is used:

    * ``find``: ``[ find key=value ... ]`` (``[ find ]`` when empty; ``where`` is
      implied) -- the form RouterOS exports use (``default-name=ether1``, ``default=yes``).
    * ``ref``: a bare reference: an internal id (``*0``, ``*FFFFFFFE``), a print number
      (``0``, as 5.x exports and ``/port set 0`` use) or an item name (``ether1``).
    """

    find: tuple[Prop, ...] | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """One console command inside a menu.

    ``verb`` is ``add``, ``set``, ``remove``, ``move``, ``enable``, ``disable``,
    ``unset`` or any other word (``:delay`` at the top level is a command whose verb is
    ``:delay`` and whose ``args`` are ``("5",)``). ``args`` holds positional words
    that are not ``key=value``. ``notes`` are the ``#`` lines RouterOS printed
    immediately before this command (inline warnings such as ``# managed by CAPsMAN``),
    without the leading ``#``.
    """

    verb: str
    props: tuple[Prop, ...] = ()
    selector: Selector | None = None
    args: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def get(self, key: str) -> str | None:
        """The value of ``key`` (last one wins), or None."""
        for prop in reversed(self.props):
            if prop.key == key:
                return prop.value
        return None


@dataclass(slots=True)
class Menu:
    """A menu block: its absolute path with single spaces (``/ip firewall filter``)."""

    path: str
    commands: list[Command] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExportMeta:
    """What the export's header said, kept beside the config rather than in it."""

    ros_version: str | None = None
    #: The volatile date/time line's text, e.g. ``2024-02-09 08:47:35``; not versioned.
    exported_at: str | None = None
    model: str | None = None
    serial_number: str | None = None
    software_id: str | None = None
    system_id: str | None = None
    #: ``compact``, ``terse`` or ``verbose`` as detected from the text.
    style: str | None = None
    #: The header comment lines after the date line, exactly as printed (``# software
    #: id = ...``, ``#``, ``# model = ...``); None when the text had no header, in which
    #: case a serialiser builds one from the fields above.
    header: tuple[str, ...] | None = None
    #: The terminal width the export was wrapped at: 0 when it was not wrapped at all
    #: (``/export file=``, no terminal), None when unknown. Layout only, so it takes no
    #: part in equality.
    wrap_width: int | None = field(default=None, compare=False)
    #: Whether the text wrote consecutive dotted properties in RouterOS 7's shorthand
    #: (``local.address=1.2.3.4 .role=ibgp``); None when it had no such pair. Layout only.
    dotted_shorthand: bool | None = field(default=None, compare=False)


@dataclass(slots=True)
class Config:
    """A whole parsed configuration (or a scoped export of one menu)."""

    menus: list[Menu] = field(default_factory=list)
    meta: ExportMeta = field(default_factory=ExportMeta)

    def menu_paths(self) -> list[str]:
        return [m.path for m in self.menus]

    def commands_in(self, path: str) -> list[Command]:
        """All commands under ``path``, across repeated blocks, in order."""
        return [c for m in self.menus if m.path == path for c in m.commands]
