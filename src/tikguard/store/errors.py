"""Errors the store raises: each says what went wrong and what to do, never a secret."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises on purpose; ``hint`` says what to do next
    when the layer raising it knows better than a generic hint."""

    def __init__(self, *args: object, hint: str | None = None) -> None:
        super().__init__(*args)
        self.hint = hint


class NotFound(StoreError, LookupError):
    """The row does not exist in this tenant (or at all: callers cannot tell apart)."""


class AlreadyExists(StoreError):
    """A row with the same unique identity already exists in this tenant."""


class InvalidInput(StoreError, ValueError):
    """The caller passed a value the store refuses to keep; nothing was written."""


class VaultError(StoreError):
    """Encryption or decryption failed: wrong master key, altered data or a bad key file.

    The message names the key ids and the record, never key material or plaintext.
    """


class StateError(StoreError):
    """The change is not allowed in the row's current state (e.g. a finished operation)."""
