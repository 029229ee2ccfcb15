"""Running an erasure: dry run or apply, resumable after a crash (no destination branches).

Apply, in this order:

1. one transaction (one lake snapshot; for Parquet, the log and suppression files are written
   before the data files): the rows of the request's keys are blanked or deleted, their
   suppression entries added, and the request logged `pending` with the keys it matched;
2. the storage is purged (`erasure_stores`: file rewrite, snapshot expiry, file cleanup);
3. the request is logged `complete`.

A run killed anywhere leaves a `pending` log row (or nothing, if step 1 did not commit); the
next run, whatever it is asked, first finishes every pending request from its logged keys,
so rerunning the same command after a crash ends with the person erased and the warehouse
whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tap_equipme.warehouse.erasure import ErasureRequest, TableChange, TableRule, erase_rows, plan
from tap_equipme.warehouse.erasure_log import (
    count_suppressions,
    ensure_bookkeeping,
    log_complete,
    log_pending,
    pending_keys,
    remove_suppressions,
    write_suppressions,
)
from tap_equipme.warehouse.erasure_stores import open_store, storage_json

if TYPE_CHECKING:
    import duckdb

KeyFinder = Callable[["duckdb.DuckDBPyConnection"], list[str]]


@dataclass
class ErasureReport:
    """What an erasure run found and did."""

    request_id: str
    destination: str
    applied: bool
    keys: list[str]
    changes: list[TableChange] = field(default_factory=list)
    suppressions_added: int = 0
    resumed: list[str] = field(default_factory=list)
    """Pending requests of an earlier, interrupted run that this run finished."""
    storage: str = ""
    time_travel: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data.

        Returns:
            A dict.
        """
        return asdict(self)

    def render(self) -> str:
        """The report for a person.

        Returns:
            Lines of text.
        """
        verb = "erased" if self.applied else "dry run (nothing changed; --apply to erase)"
        lines = [f"erasure {self.request_id} on {self.destination}: {verb}"]
        if self.resumed:
            lines.append(f"  finished interrupted request(s): {', '.join(self.resumed)}")
        if not self.keys:
            lines.append("  matched no key")
        else:
            lines.append(f"  keys: {', '.join(self.keys)}")
        for change in self.changes:
            what = "rows blanked" if change.action == "blank" else "rows deleted"
            if not self.applied:
                what = "would be " + what.split()[1]
            lines.append(
                f"  {change.table}: {change.matched} matching row(s), {change.to_change} {what}"
            )
        if self.applied:
            lines.append(f"  suppression entries added: {self.suppressions_added}")
        if self.storage:
            lines.append(f"  storage: {self.storage}")
        if self.time_travel:
            lines.append(f"  {self.time_travel}")
        return "\n".join(lines)


def _all_tables(rules: list[TableRule]) -> list[str]:
    from tap_equipme.warehouse.change_tracking import history_table

    return [name for rule in rules for name in (rule.table, history_table(rule.table))]


def run_erasure(
    destination: str,
    path: str | os.PathLike[str],
    request: ErasureRequest,
    find_keys: KeyFinder | None = None,
    *,
    apply: bool,
    lake: dict[str, Any] | None = None,
) -> ErasureReport:
    """Erase (or, without `apply`, report what would be erased) the request's keys.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The warehouse.
        request: The request (its `keys` are extended by `find_keys`).
        find_keys: Finds more keys on the open warehouse (e.g. by contact email).
        apply: Write; otherwise only count.
        lake: Destination `ducklake`: its settings.

    Returns:
        The report.
    """
    store = open_store(destination, path, _all_tables(request.rules), apply=apply, lake=lake)
    try:
        con = store.con
        if find_keys is not None:
            request.keys = sorted({*request.keys, *find_keys(con)}, key=lambda k: (len(k), k))
        pending = {
            rid: keys for rid, keys in pending_keys(con).items() if rid != request.request_id
        }
        report = ErasureReport(request.request_id, destination, apply, list(request.keys))
        if not apply:
            report.changes = plan(con, request.rules, request.keys)
            report.resumed = sorted(pending)
            report.storage = store.describe_purge()
            return report
        store.begin()
        ensure_bookkeeping(con)
        for keys in pending.values():
            erase_rows(con, request.rules, keys)
        report.changes = erase_rows(con, request.rules, request.keys)
        if request.keys:
            report.suppressions_added = write_suppressions(con, request)
            log_pending(con, request, report.changes)
        store.commit()
        report.resumed = sorted(pending)
        done = [*pending, *([request.request_id] if request.keys else [])]
        if done:
            report.storage, report.time_travel = store.purge()
            store.begin()
            log_complete(store.con, done, storage_json(report.storage, report.time_travel))
            store.commit()
        return report
    finally:
        store.close()


def unsuppress(
    destination: str,
    path: str | os.PathLike[str],
    rules: list[TableRule],
    keys: list[str],
    *,
    apply: bool,
    lake: dict[str, Any] | None = None,
) -> int:
    """Remove the suppression entries of `keys` (later loads land their fields again).

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The warehouse.
        rules: The rules whose tables are unsuppressed.
        keys: Key values, as text.
        apply: Remove; otherwise only count.
        lake: Destination `ducklake`: its settings.

    Returns:
        The number of entries removed (or that would be).
    """
    store = open_store(destination, path, [], apply=apply, lake=lake)
    try:
        con = store.con
        if not apply:
            return count_suppressions(con, rules, keys)
        store.begin()
        removed = remove_suppressions(con, rules, keys)
        store.commit()
        return removed
    finally:
        store.close()
