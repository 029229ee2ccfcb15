"""A warehouse whose history holds a contact person's old values, and a byte search for them.

Loaded by file path (the `erasure_world` fixture in test_erase.py); shared by the DuckDB,
Parquet and DuckLake erasure tests.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tap_equipme.pipeline.sync import run_sync
from tap_equipme.warehouse.tables import open_table
from tests.sandbox_writes import SandboxWrites

TABLES = {
    "customers": "id",
    "customers_history": "id",
    "customer_metadata": "customer_id",
    "customer_metadata_history": "customer_id",
    "customer_metadata_reads": "customer_id",
}
PERSONAL = ("contactName", "contactEmail", "contactPhone")
NOTE = "Rückruf bei Erika Radiergummi erbeten"


@dataclass
class World:
    """One warehouse after several syncs, the erased customer and the values to find."""

    destination: str
    path: Any
    """The DuckDB file, the Parquet directory, the catalog file, or a `postgres:` catalog."""
    lake: dict[str, Any]
    target: int
    """The customer whose contact person is erased."""
    old_values: list[str]
    """Every value the contact's fields ever had (and a free-text metadata note)."""
    control_value: str
    """Another customer's live contact email: a search that cannot see it proves nothing."""
    first_email: str
    """The contact email the target had at first (not the current one)."""
    gone: int = 0
    """Another customer, deleted in the source before the last sync (soft-deleted here)."""
    gone_values: list[str] = field(default_factory=list)
    before: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def sync(self, tap_config: dict[str, Any]) -> None:
        run_sync(tap_config, self.destination, self.path, progress_out=None, lake=self.lake)

    def moved(self, tmp_path: Path) -> World:
        """A copy of this world (DuckDB file or Parquet directory) under `tmp_path`."""
        import copy
        import shutil

        other = copy.deepcopy(self)
        if self.destination == "duckdb":
            other.path = tmp_path / self.path.name
            shutil.copy(self.path, other.path)
            # A DuckDB database is the file and its WAL (loads leave small runs' changes there).
            wal = self.path.with_name(self.path.name + ".wal")
            if wal.exists():
                shutil.copy(wal, other.path.with_name(other.path.name + ".wal"))
        else:
            other.path = tmp_path / self.path.name
            shutil.copytree(self.path, other.path)
        return other

    def others(self, erased: int | None = None) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table but the erased customer's, in a stable order."""
        erased = self.target if erased is None else erased
        rows = {}
        for table, key in TABLES.items():
            with open_table(self.destination, self.path, table, self.lake) as opened:
                if opened is None:
                    continue
                con, relation = opened
                rows[table] = con.execute(
                    f'SELECT * FROM {relation} WHERE "{key}" <> ? ORDER BY ALL', [erased]
                ).fetchall()
        return rows

    def rows_of_target(self, table: str, customer: int | None = None) -> list[dict[str, Any]]:
        with open_table(self.destination, self.path, table, self.lake) as opened:
            assert opened is not None, table
            con, relation = opened
            key = TABLES[table]
            cursor = con.execute(
                f'SELECT * FROM {relation} WHERE "{key}" = ?', [customer or self.target]
            )
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]  # type: ignore[misc]

    def files(self) -> list[Path]:
        """Every file of the warehouse: the DuckDB file (+ WAL), the directory, the lake."""
        if self.destination == "duckdb":
            return [p for p in self.path.parent.glob(self.path.name + "*") if p.is_file()]
        if self.destination == "parquet":
            roots = [self.path]
        else:
            roots = [Path(self.lake["lake_data_path"]).parent]  # the data and a catalog file
        return [p for root in roots for p in sorted(root.rglob("*")) if p.is_file()]


def build(
    destination: str,
    tmp_path: Path,
    tap_config: dict[str, Any],
    sandbox: Any,
    catalog: str | None = None,
) -> World:
    """Sync, change the target's contact twice (and its metadata), syncing in between; one
    other customer is deleted before the last sync."""
    sandbox.control.reset(customers=12, seed=3)
    writes = SandboxWrites(sandbox.base_url, tap_config["api_key"])
    if destination == "duckdb":
        path, lake = tmp_path / "wh.duckdb", {}
    elif destination == "parquet":
        path, lake = tmp_path / "wh", {}
    else:
        (tmp_path / "lake").mkdir()
        # A PostgreSQL catalog (`catalog`) or a local catalog file beside the data.
        path = catalog or tmp_path / "lake" / "catalog.ducklake"  # a URI is not a Path
        lake = {"lake_data_path": str(tmp_path / "lake" / "data") + "/"}
    snapshot = sandbox.control.snapshot()
    customers = sorted(snapshot["customers"], key=lambda c: c["id"])
    target = next(c for c in customers if c.get("contactEmail") and c.get("contactPhone"))
    other = next(c for c in customers if c["id"] != target["id"] and c.get("contactEmail"))
    gone = next(
        c for c in customers if c["id"] not in (target["id"], other["id"]) and c.get("contactName")
    )
    world = World(
        destination,
        path,
        lake,
        target["id"],
        [],
        other["contactEmail"],
        target["contactEmail"],
    )
    originals = [target[f] for f in PERSONAL if target.get(f)]
    config = {**tap_config, "metadata_refresh_days": 1e-6}  # every run re-reads metadata
    world.sync(config)
    changed: list[str] = []
    for n in (1, 2):
        values = {
            "contactName": f"Erika Radiergummi-{n}",
            "contactEmail": f"erika.radiergummi{n}@example.de",
            "contactPhone": f"+49 30 5550{n}{n}{n}{n}",
        }
        operations = [{"op": "replace", "path": f"/{k}", "value": v} for k, v in values.items()]
        writes.patch(target["id"], operations)
        if n == 1:
            writes.put_metadata(target["id"], "callbackNote", NOTE)
        else:
            sandbox.control.delete_customers([gone["id"]])
        world.sync(config)
        changed += values.values()
    # Values another customer also has (a generated name may repeat) are not the target's
    # to erase.
    shared = {c.get(f) for c in customers if c["id"] != target["id"] for f in PERSONAL}
    world.old_values = [v for v in [*originals, *changed, NOTE] if v not in shared]
    world.gone = gone["id"]
    shared = {c.get(f) for c in customers if c["id"] != gone["id"] for f in PERSONAL}
    world.gone_values = [gone[f] for f in PERSONAL if gone.get(f) and gone[f] not in shared]
    world.before = world.others()
    return world


def _text_columns_containing(con: duckdb.DuckDBPyConnection, value: str) -> list[str]:
    hits = []
    for schema, table, column in con.execute(
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = current_database()"
    ).fetchall():
        found = con.execute(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE CAST("{column}" AS VARCHAR) LIKE ?',
            [f"%{value}%"],
        ).fetchone()
        if found and found[0]:
            hits.append(f"{table}.{column}")
    return hits


def leftovers(world: World, value: str, export: Path | None = None) -> list[str]:
    """Where `value` is still found: raw bytes (UTF-8, UTF-16) of every file, every text
    column of every DuckDB file (the warehouse, a lake catalog), every Parquet column."""
    import pyarrow.parquet as pq

    needles = {value.encode(), value.encode("utf-16-le")}
    files = world.files() + (sorted(p for p in export.rglob("*") if p.is_file()) if export else [])
    hits = []
    for file in files:
        data = file.read_bytes()
        if any(n in data for n in needles):
            hits.append(f"bytes {file}")
        if file.suffix == ".parquet":
            table = pq.read_table(file)
            for name in table.column_names:
                if any(value in repr(v) for v in table.column(name).to_pylist()):
                    hits.append(f"parquet {file}:{name}")
        elif data[8:12] == b"DUCK":
            con = duckdb.connect(str(file), read_only=True)
            try:
                hits += [f"duckdb {file}:{c}" for c in _text_columns_containing(con, value)]
            finally:
                con.close()
    return hits


def erase(*args: str) -> int:
    from tap_equipme.pipeline.cli import main

    return main(["erase", *args])


def cli_args(world: World) -> list[str]:
    args = ["--destination", world.destination, "--path", str(world.path)]
    if world.lake:
        args += ["--lake-data-path", world.lake["lake_data_path"]]
    return args


def command(world: World, *args: str) -> list[str]:
    """argv of `equipme-sync erase` in a subprocess (for the crash test)."""
    return [sys.executable, "-m", "tap_equipme.pipeline.cli", "erase", *cli_args(world), *args]
