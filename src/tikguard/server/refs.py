"""Version references as the API and the UI accept them."""

from __future__ import annotations

from tikguard.ops import history
from tikguard.server.errors import ApiError

__all__ = ["MAX_SEQ", "check_ref"]

MAX_SEQ = 1_000_000_000


def check_ref(ref: str, *, live: bool = False) -> str:
    """A version reference: a number (negative from the newest), ``latest`` or ``live``."""
    text = ref.strip().lower()
    if live and text == history.LIVE:
        return text
    seq = history.parse_version_ref(text)
    if seq is not None and abs(seq) > MAX_SEQ:
        raise ApiError(422, f"version {ref!r} is out of range")
    return text
