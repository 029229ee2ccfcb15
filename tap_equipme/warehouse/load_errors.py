"""The loader's user-facing errors: one clear paragraph each, no traceback needed."""

from __future__ import annotations


class WarehouseError(Exception):
    """An error the user can fix (setting, path, lock, schema); the target exits 1."""


class IncompatibleSchemaError(WarehouseError):
    """A SCHEMA message that the existing table cannot take without losing data."""
