"""The erasure's bookkeeping: the log of requests and the suppression list's entries.

Two tables go with the data, in the same transaction where the destination has one:

- `_equipme_erasures`: one row per request: id, times, status (`pending` until the storage is
  purged, then `complete`), what matched (key values and per-table row counts, never the
  erased values), an optional keyed digest of the subject (never the subject in clear);
- `_equipme_suppressions (stream, key_column, key_value, request_id, added_at)`: rows of
  `stream` whose `key_column` equals `key_value` (as text) land with personal fields blanked.
  Its one owner is `suppression.py` (the loader reads the list through it); the erasure adds
  and removes entries only through its functions.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tap_equipme.warehouse.erasure import ErasureRequest, TableChange, TableRule, existing_tables
from tap_equipme.warehouse.suppression import SUPPRESSIONS_TABLE as SUPPRESSIONS_TABLE  # re-export
from tap_equipme.warehouse.suppression import (
    Suppression,
    add_suppressions,
    ensure_suppressions_table,
    normalize_key,
    read_suppressions,
)
from tap_equipme.warehouse.suppression import remove_suppressions as remove_entries

if TYPE_CHECKING:
    import duckdb

ERASURES_TABLE = "_equipme_erasures"
ERASURES_DDL = (
    f"CREATE TABLE IF NOT EXISTS {ERASURES_TABLE} (request_id VARCHAR, requested_at TIMESTAMPTZ, "
    "completed_at TIMESTAMPTZ, status VARCHAR, action VARCHAR, matched_by VARCHAR, "
    "subject_digest VARCHAR, keys JSON, tables JSON, storage VARCHAR)"
)


def ensure_bookkeeping(con: duckdb.DuckDBPyConnection) -> None:
    """Create `_equipme_erasures` and `_equipme_suppressions` if missing.

    Args:
        con: The connection (current schema).
    """
    con.execute(ERASURES_DDL)
    ensure_suppressions_table(con)


def suppression_entries(request: ErasureRequest) -> list[Suppression]:
    """The suppression entries of a request: one per suppressed rule and key.

    Args:
        request: The request.

    Returns:
        The entries (stamped with the request's id and time).
    """
    return [
        Suppression(rule.table, rule.key_column, key, request.request_id, request.requested_at)
        for rule in request.rules
        if rule.suppress
        for key in request.keys
    ]


def write_suppressions(con: duckdb.DuckDBPyConnection, request: ErasureRequest) -> int:
    """Add the request's suppression entries (an entry already listed keeps its request id).

    Through `suppression.add_suppressions`, the list's one owner.

    Args:
        con: The connection (current schema, in the caller's transaction).
        request: The request.

    Returns:
        The number of entries added.
    """
    return add_suppressions(con, suppression_entries(request))


def remove_suppressions(
    con: duckdb.DuckDBPyConnection, rules: list[TableRule], keys: list[str]
) -> int:
    """Remove the suppression entries of `keys` for the rules' tables.

    Through `suppression.remove_suppressions`, the list's one owner.

    Args:
        con: The connection (current schema).
        rules: The rules whose tables are unsuppressed.
        keys: Key values, as text.

    Returns:
        Entries removed.
    """
    return sum(remove_entries(con, rule.table, rule.key_column, keys) for rule in rules)


def count_suppressions(
    con: duckdb.DuckDBPyConnection, rules: list[TableRule], keys: list[str]
) -> int:
    """How many suppression entries `remove_suppressions` would remove (a dry run).

    Args:
        con: The connection (current schema).
        rules: The rules whose tables are unsuppressed.
        keys: Key values, as text.

    Returns:
        Entries listed for those keys.
    """
    listed = read_suppressions(con)
    wanted = {normalize_key(k) for k in keys}
    return sum(
        len(wanted & listed.get(rule.table, {}).get(rule.key_column, set())) for rule in rules
    )


def log_pending(
    con: duckdb.DuckDBPyConnection, request: ErasureRequest, changes: list[TableChange]
) -> None:
    """Record the request as `pending` (replacing an earlier row of the same request id).

    Args:
        con: The connection (current schema, in the caller's transaction).
        request: The request.
        changes: What it matched.
    """
    tables = {c.table: {"action": c.action, "rows": c.to_change} for c in changes}
    con.execute(f"DELETE FROM {ERASURES_TABLE} WHERE request_id = ?", [request.request_id])
    con.execute(
        f"INSERT INTO {ERASURES_TABLE} VALUES (?, ?, NULL, 'pending', ?, ?, ?, ?, ?, NULL)",
        [
            request.request_id,
            request.requested_at,
            request.action,
            request.matched_by,
            request.subject_digest,
            json.dumps(request.keys),
            json.dumps(tables),
        ],
    )


def pending_keys(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Requests whose storage purge did not finish (a crash): request id -> key values.

    Args:
        con: The connection (current schema).

    Returns:
        The pending requests.
    """
    if ERASURES_TABLE not in existing_tables(con):
        return {}
    rows = con.execute(
        f"SELECT request_id, CAST(keys AS VARCHAR) FROM {ERASURES_TABLE} "
        "WHERE status = 'pending' ORDER BY requested_at"
    ).fetchall()
    return {r[0]: json.loads(r[1]) for r in rows}


def log_complete(con: duckdb.DuckDBPyConnection, request_ids: list[str], storage: str) -> None:
    """Mark requests `complete` once their storage is purged.

    Args:
        con: The connection (current schema).
        request_ids: The requests.
        storage: What the purge did (files rewritten, snapshots expired, time travel).
    """
    con.execute(
        f"UPDATE {ERASURES_TABLE} SET status = 'complete', completed_at = now(), storage = ? "
        "WHERE request_id IN (SELECT unnest(?::VARCHAR[]))",
        [storage, request_ids],
    )
