"""Normalise ``/export`` text for versioning: same configuration, same text.

What changes between two exports of an unchanged router, and what a transport adds,
is removed; everything else is kept exactly as RouterOS printed it (wrapping included):

* line endings become LF, ANSI colour codes and trailing whitespace go, blank lines
  go, the text ends with one newline;
* an interactive shell's prompt line before and after the export is removed
  (``[admin@gw] > export compact``);
* the volatile header line ``# sep/25/2018 10:10:52 by RouterOS 6.42.5`` /
  ``# 2024-02-09 08:47:35 by RouterOS 7.13.4`` is dropped (the version is kept by
  :func:`tikguard.routeros.parse.parse` as metadata);
* transient status comments RouterOS prints between commands are dropped (see
  :data:`TRANSIENT`); user comments (``comment=``) and stable RouterOS notes such as
  ``# managed by CAPsMAN`` are kept;
* ``# software id``, ``# model``, ``# serial number`` and ``# system id`` lines are
  kept: they do not change while the hardware stays the same.

Normalising twice changes nothing. Lines inside a backslash continuation (a script
source may contain lines that start with ``#``) are never treated as comments.
"""

from __future__ import annotations

import re
from typing import Final

from tikguard.routeros.lexer import clean_lines

#: The volatile first line: date (v6 ``mmm/dd/yyyy``, 7.10+ ``yyyy-mm-dd``, or a
#: sanitised placeholder), time, and the RouterOS version.
DATE_LINE: Final = re.compile(
    r"^#\s*(?P<date>\S+)\s+(?P<time>\S+)\s+by\s+RouterOS\s+(?P<version>\S+)(?P<rest>.*)$"
)

#: Comment lines RouterOS prints about the *state* of the device, not its configuration.
TRANSIENT: Final = re.compile(
    r"^#\s*(?:"
    r"inactive time\b.*"
    r"|received packet from .*bad format.*"
    r"|poe-out status:.*"
    # A CAPsMAN-managed radio's current channel and power (``# channel: 2412/20-Ce/gn
    # (17dBm), SSID: ..., CAPsMAN forwarding``): CAPsMAN picks them at run time.
    r"|channel: \S+.*, SSID: .*"
    r"|\S.* not ready\s*"
    r"|Firmware upgraded successfully.*"
    r"|error exporting\b.*"
    r")$"
)

#: An interactive RouterOS prompt, e.g. ``[admin@MikroTik] > export compact``.
PROMPT: Final = re.compile(r"^\[[^\]\s]+@[^\]]*\]\s*(?:/[^>]*)?>")


def is_transient(line: str) -> bool:
    """True for a comment line that reports device state (dropped by normalisation)."""
    return line.startswith("#") and TRANSIENT.match(line) is not None


def _continues(line: str) -> bool:
    return line.endswith("\\") and (len(line) - len(line.rstrip("\\"))) % 2 == 1


def normalise_lines(lines: list[str]) -> list[str]:
    """:func:`normalise` for already cleaned physical lines (no line endings)."""
    out: list[str] = []
    continued = False
    header = True
    for line in lines:
        if continued:
            out.append(line)
            continued = _continues(line)
            continue
        if not line:
            continue
        if line.startswith("#"):
            # Every date line before the first command goes (a capture can repeat the
            # header), so normalising the result again finds none to drop.
            if header and DATE_LINE.match(line):
                continue
            if is_transient(line):
                continue
        elif PROMPT.match(line):
            continue
        else:
            header = False
        out.append(line)
        continued = _continues(line)
    return out


def normalise(text: str) -> str:
    """The normalised form of an export (see the module notes); idempotent."""
    physical = clean_lines(text)
    if physical and not physical[-1]:
        physical.pop()  # the final newline ends the last line; it is not a line itself
    lines = normalise_lines(physical)
    return "\n".join(lines) + "\n" if lines else ""
