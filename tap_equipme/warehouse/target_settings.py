"""The loader's settings: their JSON Schema, and opening the configured destination."""

from __future__ import annotations

import functools
import typing as t
import uuid

from singer_sdk import typing as th

from tap_equipme.warehouse.child_sets import ChildSet
from tap_equipme.warehouse.commit_policy import (
    DEFAULT_STATE_COMMIT_ROWS,
    DEFAULT_STATE_COMMIT_SECONDS,
)
from tap_equipme.warehouse.duckdb_session import DEFAULT_COMMIT_EVERY_ROWS
from tap_equipme.warehouse.duckdb_writer import DuckDBWarehouse
from tap_equipme.warehouse.ducklake_writer import DuckLakeWarehouse
from tap_equipme.warehouse.lake_config import lake_properties, lake_settings
from tap_equipme.warehouse.load_errors import WarehouseError
from tap_equipme.warehouse.parquet_writer import ParquetWarehouse
from tap_equipme.warehouse.sinks import DEFAULT_BATCH_SIZE_ROWS
from tap_equipme.warehouse.state import DESTINATIONS
from tap_equipme.warehouse.versions import ACTIVATE_VERSION_MODES

WRITERS: dict[str, type[DuckDBWarehouse]] = {
    "duckdb": DuckDBWarehouse,
    "parquet": ParquetWarehouse,
    "ducklake": DuckLakeWarehouse,
}
"""One writer class per destination (see `state.DESTINATIONS`), all behind one interface."""


def _child_sets(config: t.Mapping[str, t.Any]) -> list[ChildSet]:
    items = config.get("child_sets")
    if items is None:
        items = []
    if not isinstance(items, list):
        msg = f"Setting 'child_sets' must be a list of objects, not {items!r}."
        raise WarehouseError(msg)
    try:
        return [ChildSet.from_setting(item, index) for index, item in enumerate(items)]
    except ValueError as exc:
        raise WarehouseError(str(exc)) from exc


def _optional_text(config: t.Mapping[str, t.Any], name: str) -> str | None:
    value = config.get(name)
    if value is not None and not isinstance(value, str):
        msg = f"Setting {name!r} must be text (a name), not {value!r}."
        raise WarehouseError(msg)
    return value or None


def warehouse_opener(config: t.Mapping[str, t.Any]) -> t.Callable[[], DuckDBWarehouse]:
    """Check the destination's settings now; return what opens it when writing starts.

    Nothing is opened, created or locked here: a target that never writes leaves no trace
    and holds no lock (e.g. a Parquet directory's).

    Args:
        config: The target's settings.

    Returns:
        A function that opens the warehouse writer.

    Raises:
        WarehouseError: For a bad `destination`, `path` or other setting.
    """
    destination = config.get("destination") or "duckdb"
    path = config.get("path")
    run_id = config.get("run_id") or str(uuid.uuid4())
    if destination not in WRITERS:
        msg = f"Setting 'destination': {destination!r} is not one of {list(WRITERS)}."
        raise WarehouseError(msg)
    if not path:
        msg = (
            "Setting 'path' is required: the DuckDB file, the Parquet directory or the "
            "DuckLake catalog to load."
        )
        raise WarehouseError(msg)
    if destination == "ducklake":
        lake_settings(str(path), config)  # its checks, before anything is opened
    commit_every_rows = int(config.get("commit_every_rows") or DEFAULT_COMMIT_EVERY_ROWS)
    options: dict[str, t.Any] = {
        "commit_every_rows": commit_every_rows,
        "history": bool(config.get("history", True)),
        "child_sets": _child_sets(config),
        "bookmark_stream": _optional_text(config, "bookmark_stream"),
        "run_stats_key": _optional_text(config, "run_stats_key"),
    }
    return functools.partial(
        WRITERS[destination].from_settings, str(path), run_id, config, **options
    )


def open_warehouse(config: t.Mapping[str, t.Any]) -> DuckDBWarehouse:
    """Open the configured destination.

    Args:
        config: The target's settings.

    Returns:
        The warehouse writer.
    """
    return warehouse_opener(config)()


CONFIG_JSONSCHEMA: dict[str, t.Any] = th.PropertiesList(
    th.Property(
        "destination",
        th.StringType(allowed_values=list(DESTINATIONS)),
        default="duckdb",
        description="Where to load: a DuckDB file (`duckdb`), a Parquet directory "
        "(`parquet`) or a DuckLake lakehouse (`ducklake`).",
    ),
    th.Property(
        "path",
        th.StringType,
        required=True,
        description="The DuckDB file, the directory of the Parquet files, or the "
        "DuckLake catalog: `postgres:<libpq conninfo>` (password from PGPASSWORD, a "
        "passfile or a service file, never here) or a local catalog file.",
    ),
    *lake_properties(),
    th.Property(
        "run_id",
        th.StringType,
        description="Identifier of this load in `_equipme_loads` (default: a new UUID).",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType(minimum=1),
        default=DEFAULT_BATCH_SIZE_ROWS,
        description="Rows per batch (parsed as one Arrow table, upserted while the next "
        "batch is parsed).",
    ),
    th.Property(
        "commit_every_rows",
        th.IntegerType(minimum=1),
        default=DEFAULT_COMMIT_EVERY_ROWS,
        description="Batches are committed with the STATE that covers them; without a "
        "STATE, the open transaction is committed once it holds this many rows (bounds "
        "DuckDB's transaction memory).",
    ),
    th.Property(
        "state_commit_rows",
        th.IntegerType(minimum=1),
        default=DEFAULT_STATE_COMMIT_ROWS,
        description="Commit at a STATE message at once (drain every batch, commit data "
        "and state) once this many records arrived since the last state commit; a tap "
        "that checkpoints a long load loses at most one interval to a kill.",
    ),
    th.Property(
        "state_commit_seconds",
        th.NumberType,
        default=DEFAULT_STATE_COMMIT_SECONDS,
        description="Commit at a STATE message at once once this many seconds passed "
        "since the last state commit (see `state_commit_rows`).",
    ),
    th.Property(
        "load_method",
        th.StringType(allowed_values=["upsert"]),
        default="upsert",
        description="Always `upsert`: rows are upserted by the stream's key properties "
        "(appended when it has none); full refreshes soft-delete via ACTIVATE_VERSION.",
    ),
    th.Property(
        "validate_records",
        th.BooleanType,
        default=False,
        description="Validate each record with JSON Schema (slow); the warehouse's "
        "column types check every value anyway.",
    ),
    th.Property(
        "history",
        th.BooleanType,
        default=True,
        description="Keep a `<stream>_history` table (SCD type 2: one row per observed "
        "version, `_valid_from` / `_valid_to`) for every stream with key properties.",
    ),
    th.Property(
        "activate_version_mode",
        th.StringType(allowed_values=list(ACTIVATE_VERSION_MODES)),
        default="closing",
        description="When a full refresh's ACTIVATE_VERSION marks the rows absent from "
        "it deleted. `closing` (default, safe): only once the tap repeats "
        "ACTIVATE_VERSION after the stream's records, as tap-equipme does; a run cut "
        "short deletes nothing. `opening`: for taps built on singer-sdk, which send it "
        "only before the records: the rows of older versions are also marked deleted "
        "when the input ends cleanly (end of file; never after a signal or an error) and "
        "a STATE came after the stream's last record; with the final STATE. Risk of "
        "`opening`: a tap that dies right after a STATE in the middle of a stream (every "
        "10,000 records in singer-sdk) looks finished, so the rows it had not sent yet "
        "are marked deleted until its next full refresh. Keep `closing` for tap-equipme. "
        "See docs/singer-peers.md.",
    ),
    th.Property(
        "child_sets",
        th.ArrayType(
            th.ObjectType(
                th.Property("stream", th.StringType, required=True),
                th.Property("key", th.StringType, required=True),
                th.Property("reads_stream", th.StringType, required=True),
                th.Property("parent_stream", th.StringType),
                th.Property("parent_key", th.StringType),
            )
        ),
        description="Child streams whose rows of a parent are complete whenever the "
        "parent's `key` appears in `reads_stream` in a run: the parent's children not "
        "loaded in that run are soft-deleted; with `parent_stream`, children of a "
        "soft-deleted parent (matched on its `parent_key`) too. Default: none (the "
        "source's pipeline declares them).",
    ),
    th.Property(
        "bookmark_stream",
        th.StringType,
        description="The stream whose bookmark (`bookmarks.<stream>.replication_key_value` of "
        "the STATE) `_equipme_loads` records as `bookmark_before` / `bookmark_after`. "
        "Default: none.",
    ),
    th.Property(
        "run_stats_key",
        th.StringType,
        description="Top-level key of the STATE under which the source reports its run "
        "(requests by kind, responses by status), copied into `_equipme_loads`. Default: none.",
    ),
).to_dict()
"""The settings of `target-duckdb-lake` (see `--about`)."""
