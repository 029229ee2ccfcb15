"""DuckDB warehouse, the deleting half: soft deletes of a version, child sets, state commits.

What a complete full-refresh version or a "reads" stream proves gone is soft-deleted here
(`_deleted_at`, with the history closed by change tracking); `commit_state` runs the checks
that must hold before a state may commit. `duckdb_writer.DuckDBWarehouse` (upserts) builds on
this; connection, transactions and bookkeeping are `duckdb_session.DuckDBSession`'s.
"""

from __future__ import annotations

from typing import Any

from tap_equipme.warehouse.arrow import quote
from tap_equipme.warehouse.change_tracking import history_table, seen_table
from tap_equipme.warehouse.duckdb_session import DuckDBSession, LoadStats
from tap_equipme.warehouse.sightings import state_integers


class DuckDBDeletes(DuckDBSession):
    """Soft deletes (versions, child sets) and the state commit around them."""

    def keeps_history(self, stream: str) -> bool:
        """Whether the stream gets a `<stream>_history` table.

        Args:
            stream: Stream name.

        Returns:
            True for every stream when `history` is on, except the "reads" streams of child
            sets (bookkeeping of the source, not data with versions).
        """
        return self._history and stream not in {c.reads_stream for c in self.child_sets}

    def soft_delete_absent(self, stream: str, version: int) -> int:
        """Mark rows not seen in `version` as deleted (ACTIVATE_VERSION), in the open transaction.

        Args:
            stream: Stream name.
            version: The activated table version.

        Returns:
            The number of rows newly marked deleted.
        """
        self.wait_for_loads()
        if not self._table_exists(stream):
            return 0
        self._begin()
        where, params = self.tracker.sightings.absent_condition(stream, version)
        deleted = self.tracker.soft_delete(
            stream,
            self._existing_keys(stream),
            where,
            params,
            history=self.keeps_history(stream),
        )
        self.tracker.sightings.forget(stream, version)
        return self._count_deleted(stream, deleted)

    def _count_deleted(self, stream: str, deleted: int) -> int:
        if deleted and self.keeps_history(stream):
            self._touched(history_table(stream))
        stats = self._stats.setdefault(stream, LoadStats())
        stats.deleted += deleted
        self._write_load_row(stream, "running")
        return deleted

    def commit_state(self, state: dict[str, Any]) -> None:
        """Store the state and commit (see `DuckDBSession.commit_state`).

        First writes the sightings of a version still open whose number the state carries
        (see `sightings`): a later process may continue that version.

        Args:
            state: The Singer state covering everything loaded so far.
        """
        self.wait_for_loads()
        numbers = state_integers(state)
        for stream, versions in self.tracker.sightings.pending().items():
            for version in versions:
                if version in numbers and not self.versions.is_closed(stream, version):
                    self._begin()
                    if self.tracker.sightings.stamp(stream, version):
                        self._touched(stream)
        super().commit_state(state)

    def before_state_commit(self) -> None:
        """At a STATE: apply the child sets of the parents read so far, then forget them.

        Every batch before the STATE is loaded, and a reads row follows all of its parent's
        children, so the sets of the parents in the reads seen so far are complete. Applying
        them with the state means a run cut short after this commit leaves those deletions
        done (a resumed run does not read these parents again); forgetting the applied keys
        keeps the next application, and the temporary key tables, small.
        """
        for reads_stream in dict.fromkeys(c.reads_stream for c in self.child_sets):
            if not self.tracker.seen_exists(reads_stream):
                continue
            # Children of deleted parents wait for the end of input (`finalize`): that part
            # scans the whole parent table, at every commit of a first load it grew with N.
            self.apply_child_sets(reads_stream, parents=False)
            reads = quote(seen_table(reads_stream))
            for child_set in self.child_sets:
                if child_set.reads_stream != reads_stream:
                    continue
                if self.tracker.seen_exists(child_set.stream):
                    key = quote(child_set.key)
                    self.con.execute(
                        f"DELETE FROM {quote(seen_table(child_set.stream))} "
                        f"WHERE {key} IN (SELECT {key} FROM {reads})"
                    )
            self.con.execute(f"DELETE FROM {reads}")

    def apply_child_sets(self, reads_stream: str, *, parents: bool = True) -> dict[str, int]:
        """At end of input: soft-delete child rows a "reads" stream proves gone.

        For each child set read through `reads_stream`: a parent listed in this run's reads
        had its complete set of children read, so its children not loaded in this run are
        gone; children of parents soft-deleted in the warehouse go with them.

        Args:
            reads_stream: The stream that finished.
            parents: Also the children of parents soft-deleted (False at a state commit).

        Returns:
            Child stream -> rows newly marked deleted.
        """
        self.wait_for_loads()
        done: dict[str, int] = {}
        for child_set in self.child_sets:
            if child_set.reads_stream != reads_stream or not self._table_exists(child_set.stream):
                continue
            self._begin()
            where, params = child_set.gone_condition(
                child_keys=self._existing_keys(child_set.stream),
                child_seen=self.tracker.seen_exists(child_set.stream),
                reads_seen=self.tracker.seen_exists(reads_stream),
                parent_exists=parents
                and bool(child_set.parent_stream)
                and self._table_exists(child_set.parent_stream or ""),
            )
            deleted = self.tracker.soft_delete(
                child_set.stream,
                self._existing_keys(child_set.stream),
                where,
                params,
                history=self.keeps_history(child_set.stream),
            )
            done[child_set.stream] = self._count_deleted(child_set.stream, deleted)
        return done

    def _scalar(self, sql: str, params: list[Any] | None = None, *, count: bool = False) -> int:
        rows = self.con.execute(sql, params or []).fetchall()
        if count:
            return len(rows)
        return int(rows[0][0]) if rows else 0


__all__ = ["DuckDBDeletes"]
