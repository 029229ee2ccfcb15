"""The tap's errors: each one a clear paragraph a user can act on, never carrying the key."""

from __future__ import annotations


class EquipmeError(RuntimeError):
    """A failure the tap reports as one paragraph and a non-zero exit (no traceback)."""


class EquipmeAuthError(EquipmeError):
    """The API refused the API key (401)."""


class EquipmeAccessError(EquipmeError):
    """The API denied access to a resource (403) or does not know it (404)."""


class EquipmeRequestError(EquipmeError):
    """The API rejected a request (400 and other 4xx)."""


class EquipmeRetriesExhausted(EquipmeError):
    """Server errors, timeouts or bad bodies persisted through every retry."""


class EquipmeConfigError(EquipmeError):
    """A setting has a bad value."""
