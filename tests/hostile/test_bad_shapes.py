"""Items of shapes the spec forbids: one clear error, nothing half-written, the next run loads.

Each case serves a bad listing or metadata body from `shapes_server.py` over real HTTP and
runs `equipme-sync` (tap and target as processes) on a copy of an existing DuckDB
warehouse. The run must fail with an error that names the page, the customer or the field
and carries no traceback; the warehouse's rows, state and bookmark must be the ones from
before the run; a good run afterwards loads.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.sync import SyncError, run_sync

KEY = "shapes-key-5b1d-DO-NOT-LEAK"


def _load_server() -> ModuleType:
    path = Path(__file__).with_name("shapes_server.py")
    spec = importlib.util.spec_from_file_location("equipme_shapes_server", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


shapes = _load_server()


def customer(customer_id: Any, **fields: Any) -> dict[str, Any]:
    record = {
        "id": customer_id,
        "name": f"Customer {customer_id}",
        "active": True,
        "self": {"href": f"/v1/sales/customers/{customer_id}"},
    }
    record.update(fields)
    return record


def item(key: Any, value: str = "x", **fields: Any) -> dict[str, Any]:
    return {"key": key, "value": value, "scope": "Customer", "self": {"href": "/m"}, **fields}


GOOD = [customer(1), customer(2), customer(3)]
GOOD_METADATA = {1: [item("color", "red")], 2: [item("size", "L")]}

# name -> (customers, metadata, words the error must contain)
BAD: dict[str, tuple[list[Any], dict[Any, Any], list[str]]] = {
    "id a string": (
        [customer(1), customer(2), customer("abc")],
        GOOD_METADATA,
        ["offset 0", "item 2", "'id' is a string ('abc')"],
    ),
    "id a float": (
        [customer(1), customer(2), customer(3.5)],
        GOOD_METADATA,
        ["item 2", "'id' is a number (3.5)"],
    ),
    "id beyond 64 bits": (
        [customer(1), customer(2), customer(2**70)],
        GOOD_METADATA,
        ["item 2", "does not fit in 64 bits"],
    ),
    "item without id": (
        [customer(1), customer(2), {"name": "x", "self": {"href": "/"}}],
        GOOD_METADATA,
        ["item 2", "has no 'id'"],
    ),
    "item not an object": (
        [customer(1), customer(2), 42],
        GOOD_METADATA,
        ["item 2", "is an integer (42), not an object"],
    ),
    "JSON nested 10,000 deep": (
        [customer(1), customer(2), customer(3, deep=shapes.nested(10_000))],
        GOOD_METADATA,
        ["GET /v1/sales/customers", "nested too deep"],
    ),
    "a field nested 60 deep": (
        [customer(1), customer(2), customer(3, deep=shapes.nested(60))],
        GOOD_METADATA,
        ["id=3", "deep.a", "nests deeper than 32"],
    ),
    "a field named ''": (
        [customer(1), customer(2), customer(3, **{"": 1})],
        GOOD_METADATA,
        ["id=3", "has an empty name"],
    ),
    "a field name with a NUL": (
        [customer(1), customer(2), customer(3, **{"a\x00b": 1})],
        GOOD_METADATA,
        ["id=3", "NUL character"],
    ),
    "a field named _valid_from": (
        [customer(1), customer(2), customer(3, _valid_from="2026-01-01")],
        GOOD_METADATA,
        ["customers", "'_valid_from'", "bookkeeping"],
    ),
    "a field named __equipme_row": (
        [customer(1), customer(2), customer(3, __equipme_row=7)],
        GOOD_METADATA,
        ["customers", "'__equipme_row'", "bookkeeping"],
    ),
    "a field named _loaded_at (other case)": (
        [customer(1), customer(2), customer(3, _Loaded_At="x")],
        GOOD_METADATA,
        ["'_Loaded_At'", "bookkeeping"],
    ),
    "metadata item without key": (
        GOOD,
        {1: [item("color")], 2: [{"value": "x", "self": {"href": "/m"}}]},
        ["customer 2", "metadata item 0", "'key' is null"],
    ),
    "metadata item not an object": (
        GOOD,
        {1: [item("color")], 2: ["x"]},
        ["/v1/sales/customers/2/metadata", "expected a JSON array of objects"],
    ),
}


FAST = {
    "id a string",
    "item not an object",
    "a field named ''",
    "a field named _valid_from",
    "metadata item without key",
}
"""Cases run by default; the rest (about 10 s each on a busy machine) are marked slow."""
LOADER_SIDE = {name for name in BAD if "bookkeeping" in BAD[name][2]}
"""Cases refused by the loader after the tap sent a new schema: a good run follows."""


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with shapes.ShapesServer(KEY) as running:
        yield running


@pytest.fixture(scope="module")
def config(server: Any) -> dict[str, Any]:
    return {"api_key": KEY, "api_url": server.base_url, "request_timeout": 5, "max_retries": 1}


@pytest.fixture(scope="module")
def loaded(server: Any, config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse one good run loaded (each case works on a copy)."""
    path = tmp_path_factory.mktemp("base") / "wh.duckdb"
    server.serve(GOOD, GOOD_METADATA)
    assert _sync(config, path).status == "succeeded"
    return path


def _sync(config: dict[str, Any], path: Path) -> Any:
    return run_sync(config, "duckdb", path, full_refresh=True, progress_out=None)


def _contents(path: Path) -> dict[str, Any]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            "customers": con.execute(
                "SELECT id, name, _loaded_at, _deleted_at FROM customers ORDER BY id"
            ).fetchall(),
            "metadata": con.execute(
                "SELECT customer_id, key, value, _loaded_at FROM customer_metadata ORDER BY ALL"
            ).fetchall(),
            "state": con.execute("SELECT state FROM _equipme_state").fetchall(),
            "columns": con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'customers' ORDER BY ALL"
            ).fetchall(),
            "succeeded": con.execute(
                "SELECT count(*) FROM _equipme_loads WHERE status = 'succeeded'"
            ).fetchall(),
        }
    finally:
        con.close()


@pytest.mark.parametrize(
    "case", [name if name in FAST else pytest.param(name, marks=pytest.mark.slow) for name in BAD]
)
def test_a_bad_shape_is_one_clear_error_and_changes_nothing(
    case: str, server: Any, config: dict[str, Any], loaded: Path, tmp_path: Path
) -> None:
    customers, metadata, words = BAD[case]
    path = tmp_path / "wh.duckdb"
    shutil.copy(loaded, path)
    before = _contents(path)
    server.serve(customers, metadata)
    with pytest.raises(SyncError) as failure:
        _sync(config, path)
    message = str(failure.value)
    assert "Traceback" not in message
    for word in words:
        assert word in message, f"{word!r} not in: {message[-1500:]}"
    assert KEY not in message
    assert _contents(path) == before
    if case in LOADER_SIDE:
        # The API is repaired: the next run loads (where the tap failed first, the warehouse
        # holds what it held before the run, as the comparison above shows).
        server.serve(GOOD, GOOD_METADATA)
        assert _sync(config, path).status == "succeeded"


def test_metadata_rows_belong_to_the_customer_of_the_request(
    server: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "wh.duckdb"
    # Customer 2's answer claims its item belongs to customer 1, under customer 1's key.
    server.serve(GOOD, {1: [item("color", "red")], 2: [item("color", "blue", customer_id=1)]})
    summary = _sync(config, path)
    assert ("customer_metadata", "payload_customer_id") in {
        (c["stream"], c["field_path"]) for c in summary.schema_changes
    }
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT customer_id, key, value, payload_customer_id FROM customer_metadata "
            "ORDER BY customer_id"
        ).fetchall()
    finally:
        con.close()
    assert rows == [(1, "color", "red", None), (2, "color", "blue", 1)]


def test_metadata_keys_empty_or_with_a_nul_are_stored_and_the_views_still_build(
    server: Any, config: dict[str, Any], tmp_path: Path
) -> None:
    from tap_equipme.pipeline.reporting_views import create_views

    path = tmp_path / "wh.duckdb"
    # The spec allows any key of 0..150 characters.
    server.serve(GOOD, {1: [item("", "empty"), item("a\x00b", "nul"), item("(empty)", "named")]})
    assert _sync(config, path).status == "succeeded"
    assert "customer_metadata_wide" in create_views(path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        wide = con.execute("SELECT * FROM customer_metadata_wide WHERE customer_id = 1")
        row = dict(zip([d[0] for d in wide.description], wide.fetchone() or (), strict=True))
    finally:
        con.close()
    assert row["(empty)"] == "empty"
    assert row["(empty)_2"] == "named"
    assert row["a\ufffdb"] == "nul"
