"""The DuckLake side of an erasure: one lake transaction, then the old snapshots' bytes go.

The erasure itself is one lake transaction (a new snapshot). `purge` then, for each touched
table, flushes inlined rows and rewrites every data file with deleted rows; expires every
snapshot older than that; narrows the table-level text statistics the catalog keeps (they
could still name an erased value); deletes the files no snapshot needs any more (and orphans
of crashed loads older than the erasure); and rewrites a local catalog file like a DuckDB file
(a PostgreSQL catalog is vacuumed). Time travel then starts at the erasure.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tap_equipme.warehouse.connection import utc_now
from tap_equipme.warehouse.duckdb_rewrite import literal, rewrite_duckdb_file
from tap_equipme.warehouse.erasure import existing_tables

_literal = literal


class LakeStore:
    """A DuckLake: catalog plus data files."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        tables: list[str],
        lake: dict[str, Any] | None,
        *,
        apply: bool,
    ) -> None:
        """Attach the lake (read-only for a dry run).

        Args:
            path: The catalog.
            tables: The tables the erasure may touch (their files are rewritten).
            lake: The `lake_*` / `s3_*` settings.
            apply: Whether the erasure writes.
        """
        from tap_equipme.warehouse.lake import connect_lake, lake_settings

        self.tables = tables
        self.settings = lake_settings(str(path), lake or {})
        self.apply = apply
        self.started = utc_now()
        self.con = connect_lake(self.settings, read_only=not apply)

    def begin(self) -> None:
        """Start the erasure's lake transaction (one snapshot)."""
        self.con.execute("BEGIN TRANSACTION")

    def commit(self) -> None:
        """Commit it."""
        self.con.execute("COMMIT")

    def _earliest(self) -> tuple[Any, Any]:
        row = self.con.execute(
            "SELECT snapshot_id, snapshot_time FROM lake.snapshots() ORDER BY snapshot_id LIMIT 1"
        ).fetchone()
        assert row is not None
        return row[0], row[1]

    def purge(self) -> tuple[str, str | None]:
        """Rewrite files with deleted rows, expire older snapshots, delete unneeded files.

        Returns:
            What was done, and how far time travel reaches now.
        """
        from tap_equipme.warehouse.lake import LAKE_ALIAS

        con = self.con
        alias = _literal(LAKE_ALIAS)
        schema = _literal(self.settings.schema)
        # Table by table (only these changed): with DuckLake 1.5.5 a catalog-wide flush
        # followed by rewrites fails ("DuckLakeCompactor: failed to find table entry for
        # given snapshot id"); flushing each table's inlined rows right before its rewrite
        # does not.
        touched = sorted(set(self.tables) & existing_tables(con))
        for table in touched:
            name = _literal(table)
            con.execute(
                f"CALL ducklake_flush_inlined_data({alias}, table_name => {name}, "
                f"schema_name => {schema})"
            )
            con.execute(
                f"CALL ducklake_rewrite_data_files({alias}, {name}, schema => {schema}, "
                "delete_threshold => 0)"
            )
        row = con.execute("SELECT max(snapshot_time) FROM lake.snapshots()").fetchone()
        assert row is not None
        expired = con.execute(
            f"CALL ducklake_expire_snapshots({alias}, older_than => ?)", [row[0]]
        ).fetchall()
        self._refresh_table_stats(touched)
        removed = con.execute(
            f"CALL ducklake_cleanup_old_files({alias}, cleanup_all => true)"
        ).fetchall()
        # Orphans (files of crashed loads) older than this erasure; newer ones may belong to a
        # load committing right now.
        orphans = con.execute(
            f"CALL ducklake_delete_orphaned_files({alias}, older_than => ?)", [self.started]
        ).fetchall()
        snapshot, since = self._earliest()
        done = (
            f"rewrote the data files of {len(touched)} table(s), expired {len(expired)} "
            f"snapshot(s), deleted {len(removed) + len(orphans)} file(s)"
        )
        done += self._purge_catalog()
        travel = f"time travel now reaches back to snapshot {snapshot} ({since.isoformat()})"
        return done, travel

    def _refresh_table_stats(self, tables: list[str]) -> None:
        """Recompute the touched tables' text min/max statistics from their live files.

        DuckLake keeps a table-level min/max per column in the catalog and never narrows it
        when rows go: the erased email can be a table's `min_value`. The live files' own
        statistics (all rewritten or written after the erasure) are clean; text compares the
        same in SQL as in the stats, so their min/max is the table's.
        """
        from tap_equipme.warehouse.lake import LAKE_ALIAS

        meta = f"__ducklake_metadata_{LAKE_ALIAS}"
        if not tables:
            return
        live_stats = (
            f"SELECT {{}}(fs.{{}}) FROM {meta}.ducklake_file_column_stats fs "
            f"JOIN {meta}.ducklake_data_file d ON d.data_file_id = fs.data_file_id "
            "WHERE d.end_snapshot IS NULL AND fs.table_id = s.table_id "
            "AND fs.column_id = s.column_id"
        )
        self.con.execute(
            f"UPDATE {meta}.ducklake_table_column_stats s SET "
            f"min_value = ({live_stats.format('min', 'min_value')}), "
            f"max_value = ({live_stats.format('max', 'max_value')}) "
            f"WHERE s.column_id IN (SELECT column_id FROM {meta}.ducklake_column "
            "WHERE column_type = 'varchar' AND end_snapshot IS NULL) "
            f"AND s.table_id IN (SELECT t.table_id FROM {meta}.ducklake_table t "
            f"JOIN {meta}.ducklake_schema sc ON sc.schema_id = t.schema_id "
            "WHERE t.end_snapshot IS NULL AND sc.end_snapshot IS NULL "
            "AND sc.schema_name = ? AND t.table_name IN (SELECT unnest(?::VARCHAR[])))",
            [self.settings.schema, tables],
        )

    def _purge_catalog(self) -> str:
        """Rid the catalog's own storage of expired rows (inlined data, statistics).

        The lake is detached first: its open PostgreSQL connections would hold locks that
        VACUUM FULL waits for, and a catalog file cannot be copied while attached.
        """
        from tap_equipme.warehouse.lake import connect_lake

        self.con.execute("USE memory")
        self.con.execute("DETACH lake")
        self.con.close()
        try:
            if self.settings.uses_postgres:
                return self._vacuum_postgres()
            rewrite_duckdb_file(Path(self.settings.catalog))
            return "; rewrote the catalog file"
        finally:
            self.con = connect_lake(self.settings)

    def _vacuum_postgres(self) -> str:
        """VACUUM FULL the catalog's tables: expired rows leave the pages of its files.

        A plain VACUUM only marks their space reusable; VACUUM FULL writes each table anew.
        It cannot run in a transaction block, which is where DuckDB's postgres extension runs
        every statement, so it goes through psycopg (the `celery` extra installs it).
        """
        conninfo = self.settings.catalog.split(":", 1)[1]
        try:
            import psycopg
        except ImportError:
            return (
                "; the PostgreSQL catalog was not vacuumed (psycopg is not installed): run "
                "VACUUM FULL on its ducklake_* tables"
            )
        try:
            with psycopg.connect(conninfo, autocommit=True) as pg:
                # A reader holding a catalog table would make VACUUM FULL wait for ever.
                pg.execute("SET lock_timeout = '60s'")
                rows = pg.execute(
                    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                    "WHERE tablename LIKE 'ducklake\\_%'"
                ).fetchall()
                if rows:
                    pg.execute(f"VACUUM FULL {', '.join(r[0] for r in rows)}")
        except psycopg.Error as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            return f"; could not VACUUM FULL the PostgreSQL catalog ({first}): run it there"
        return f"; vacuumed the PostgreSQL catalog (VACUUM FULL of {len(rows)} tables)"

    def describe_purge(self) -> str:
        """What `purge` would do.

        Returns:
            A sentence.
        """
        snapshot, since = self._earliest()
        return (
            "would rewrite the lake's data files with deleted rows, expire every snapshot "
            f"before the erasure (time travel reaches back to snapshot {snapshot}, "
            f"{since.isoformat()}, today) and delete the files only they used"
        )

    def close(self) -> None:
        """Close the connection."""
        self.con.close()
