"""Benchmark 8's view of one warehouse: its files, its size, its state, its report view.

One `GrowthWarehouse` per destination (a DuckDB file, or a DuckLake with a local DuckDB
catalog file and a local data path). It knows the `equipme-sync` arguments that reach it,
what lies on storage (the files a storage bill counts), and how to read it back; the
benchmark loop (`bench_growth.py`) only sequences runs and measurements.
"""

from __future__ import annotations

import inspect
import json
import resource
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
from harness import bin_path, run_measured

from tap_equipme.warehouse.lake import connect_lake, lake_settings

# Tables that only gain rows (versions, reads, audit rows): their growth is the history's
# real growth, which the size goal allows for.
HISTORY_TABLES = ("customers_history", "customer_metadata_history", "customer_metadata_reads")
AUDIT_TABLES = ("_equipme_loads",)
REPORT_VIEW = "customers_report"


@dataclass(frozen=True)
class Storage:
    """What lies on storage after a step: path -> bytes, and the catalog file's size."""

    files: dict[str, int]
    catalog_bytes: int

    @property
    def data_bytes(self) -> int:
        return sum(self.files.values())

    @property
    def total_bytes(self) -> int:
        return self.data_bytes + self.catalog_bytes


class GrowthWarehouse:
    """One destination of benchmark 8, under `workdir`."""

    def __init__(self, destination: str, workdir: Path) -> None:
        self.destination = destination
        if destination == "duckdb":
            self.path = workdir / "growth.duckdb"
            self.data_path: Path | None = None
        elif destination == "ducklake":
            self.path = workdir / "growth-lake.ducklake"
            self.data_path = workdir / "growth-lake-data"
        else:
            raise ValueError(f"benchmark 8 runs on duckdb or ducklake, not {destination!r}")
        self.export_dir = workdir / f"growth-export-{destination}"

    # --- equipme-sync -------------------------------------------------------------------
    def arguments(self) -> list[str]:
        """`--destination D --path P [lake options]`, as every `equipme-sync` command takes."""
        args = ["--destination", self.destination, "--path", str(self.path)]
        if self.data_path is not None:
            args += ["--lake-data-path", f"{self.data_path}/"]
        return args

    def lake(self) -> dict[str, Any]:
        return {"lake_data_path": f"{self.data_path}/"} if self.data_path else {}

    def sync(self, config: Path) -> tuple[float, int]:
        """One default `equipme-sync` (change capture from the stored state).

        Returns:
            Wall seconds, and the bytes its processes wrote to storage (the kernel's count of
            blocks written, `ru_oublock`, of the finished children: the DuckDB file and its
            WAL, Parquet files, a local catalog file and its WAL, anything else).
        """
        command = [bin_path("equipme-sync"), *self.arguments(), "--config", str(config)]
        blocks = resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock
        seconds = run_measured(command).seconds
        written = (resource.getrusage(resource.RUSAGE_CHILDREN).ru_oublock - blocks) * 512
        return seconds, written

    def maintain(self, retention: str = "7d", grace: str = "1h") -> tuple[float, dict[str, Any]]:
        """`equipme-sync maintain ... --apply --json`: wall seconds and its JSON summary."""
        command = [bin_path("equipme-sync"), "maintain", *self.arguments(), "--apply", "--json"]
        command += ["--retention", retention, "--grace", grace]
        out = self.path.with_name(f"maintain-{self.destination}.json")
        with out.open("w") as stdout:
            measured = run_measured(command, stdout=stdout)
        text = out.read_text().strip()
        try:
            summary = json.loads(text) if text else {}
        except ValueError:
            summary = {"output": text[-500:]}
        return measured.seconds, summary if isinstance(summary, dict) else {"output": summary}

    # --- storage ------------------------------------------------------------------------
    def storage(self) -> Storage:
        """The warehouse's files: the DuckDB file (and WAL), or the lake's data files."""
        if self.data_path is None:
            files = [self.path, self.path.with_name(self.path.name + ".wal")]
            return Storage({str(f): f.stat().st_size for f in files if f.exists()}, 0)
        found = {str(f): f.stat().st_size for f in self.data_path.rglob("*") if f.is_file()}
        catalog = [self.path, self.path.with_name(self.path.name + ".wal")]
        return Storage(found, sum(f.stat().st_size for f in catalog if f.exists()))

    def live_files(self) -> int | None:
        """DuckLake: data and delete files the catalog still lists (None for DuckDB)."""
        if self.data_path is None:
            return None
        with duckdb.connect(str(self.path), read_only=True) as con:
            row = con.execute(
                "SELECT (SELECT count(*) FROM ducklake_data_file WHERE end_snapshot IS NULL)"
                " + (SELECT count(*) FROM ducklake_delete_file WHERE end_snapshot IS NULL)"
            ).fetchone()
        return int(row[0]) if row else 0

    # --- reading and editing ------------------------------------------------------------
    def connect(self, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
        if self.data_path is None:
            return duckdb.connect(str(self.path), read_only=read_only)
        return connect_lake(lake_settings(str(self.path), self.lake()), read_only=read_only)

    def last_run_an_hour_ago(self) -> None:
        """Move the stored previous-run start one hour back (as benchmark 7 does).

        Without the checkpoint DuckDB makes when a read-write connection closes: this edit
        stands in for the hour between two runs, and a checkpoint here would fold the
        loads' WAL into the file at every run, which no user's hourly schedule does (the
        loader leaves it, see `wal.WAL_SHARE_BEFORE_CHECKPOINT`). A lake's
        catalog file gets the same from `connect_lake`.
        """
        with self.connect(read_only=False) as con:
            if self.data_path is None:
                con.execute("PRAGMA disable_checkpoint_on_shutdown")
            row = con.execute("SELECT state FROM _equipme_state WHERE id = 1").fetchone()
            assert row is not None, "no stored state after the first run"
            state = json.loads(row[0])
            hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
            window = state["bookmarks"]["customers"].setdefault("metadata_refresh", {})
            window["previous_run_started_at"] = hour_ago.isoformat()
            con.execute("UPDATE _equipme_state SET state = ? WHERE id = 1", [json.dumps(state)])

    def parquet_bytes(self, query: str, out: Path) -> int:
        """The size of `query`'s rows written as one Parquet file (DuckDB's defaults)."""
        with self.connect() as con:
            con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")
        size = out.stat().st_size
        out.unlink()
        return size

    def changed_rows_bytes(self, ids: list[int], out: Path) -> int:
        """The renamed customers' rows, as Parquet: what an O(k) write has to put down."""
        listed = ", ".join(str(i) for i in ids) or "NULL"
        return self.parquet_bytes(f"SELECT * FROM customers WHERE id IN ({listed})", out)

    def history_bytes(self, out: Path) -> int:
        """All rows of the tables that only grow (history, reads, audit), as Parquet."""
        with self.connect() as con:
            tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
        return sum(
            self.parquet_bytes(f"SELECT * FROM {table}", out)
            for table in (*HISTORY_TABLES, *AUDIT_TABLES)
            if table in tables
        )

    def report_view_seconds(self, repeats: int = 3) -> float:
        """Best-of-N time to read the whole `customers_report` view (publishes if missing)."""
        if not self._has_report_view():
            self._publish()
        best = float("inf")
        with self.connect() as con:
            for _ in range(repeats):
                started = time.perf_counter()
                # Into Arrow: the scan and the view's expressions, not Python objects per row.
                con.execute(f"SELECT * FROM {REPORT_VIEW}").to_arrow_table()
                best = min(best, time.perf_counter() - started)
        return best

    def _has_report_view(self) -> bool:
        with self.connect() as con:
            row = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
                "AND table_type = 'VIEW'",
                [REPORT_VIEW],
            ).fetchone()
        return bool(row and row[0])

    def _publish(self) -> None:
        """The pipeline's publish step (the DAG's publish task), as the place views come from."""
        from tap_equipme.pipeline.publish import publish

        kwargs: dict[str, Any] = {"export_dir": self.export_dir}
        if "lake" in inspect.signature(publish).parameters:
            kwargs["lake"] = self.lake()
        publish(self.destination, str(self.path), **kwargs)
        if not self._has_report_view():
            msg = f"{REPORT_VIEW} is missing on {self.destination} even after publish()"
            raise RuntimeError(msg)
