"""Upserts by key within a batch, across batches and across runs, and the loads table."""

from __future__ import annotations


def test_same_key_in_one_batch_keeps_the_last_version(target, query, singer):
    target.in_process(
        [
            singer.schema(),
            singer.record(singer.customer(1, name="first")),
            singer.record(singer.customer(1, name="second")),
        ]
    )
    assert query("SELECT id, name FROM customers") == [(1, "second")]


def test_same_key_across_batches_and_runs_gives_one_row_with_latest_values(target, query, singer):
    first = [singer.schema(), *(singer.record(singer.customer(i)) for i in range(1, 6))]
    target.in_process([*first, singer.state("2024-01-01T00:00:00Z")], batch_size_rows=2)
    second = [
        singer.schema(),
        singer.record(singer.customer(2, name="renamed")),
        singer.record(singer.customer(6)),
        singer.record(singer.customer(2, name="renamed again", active=False)),
        singer.state("2024-02-01T00:00:00Z"),
    ]
    target.in_process(second, batch_size_rows=2, run_id="run-2")
    assert query("SELECT count(*), count(DISTINCT id) FROM customers") == [(6, 6)]
    assert query("SELECT name, active FROM customers WHERE id = 2") == [("renamed again", False)]
    loads = query(
        "SELECT rows_inserted, rows_updated, rows_deleted, bookmark_before, bookmark_after, "
        "status FROM _equipme_loads WHERE run_id = 'run-2'"
    )
    # Batch 1 (ids 2, 6): 1 update + 1 insert; batch 2 (id 2 again): 1 update.
    assert loads == [(1, 2, 0, "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "succeeded")]


def test_loads_table_records_each_run_per_stream(target, query, singer):
    target.in_process(
        [
            singer.schema(),
            singer.schema("customer_metadata", singer.metadata_schema, ["customer_id", "key"]),
            singer.record(singer.customer(1)),
            singer.record(
                {
                    "customer_id": 1,
                    "key": "tier",
                    "value": "gold",
                    "scope": "Customer",
                    "self": {"href": "v1/x"},
                },
                stream="customer_metadata",
            ),
            singer.state("2024-03-01T00:00:00Z"),
        ],
        run_id="run-a",
    )
    rows = query(
        "SELECT run_id, stream, rows_inserted, status, started_at <= finished_at "
        "FROM _equipme_loads ORDER BY stream"
    )
    assert rows == [
        ("run-a", "customer_metadata", 1, "succeeded", True),
        ("run-a", "customers", 1, "succeeded", True),
    ]


def test_a_new_key_is_inserted_and_loaded_at_is_set(target, query, singer):
    target.in_process([singer.schema(), singer.record(singer.customer(1))])
    before = query("SELECT _loaded_at FROM customers WHERE id = 1")[0][0]
    target.in_process([singer.schema(), singer.record(singer.customer(1, name="x"))])
    after = query("SELECT _loaded_at, _deleted_at FROM customers WHERE id = 1")[0]
    assert after[0] > before
    assert after[1] is None


def test_records_through_stream_maps_take_the_standard_sdk_path(target, query, singer):
    """With stream maps (or validation) records go through singer-sdk's per-record path."""
    run = target.in_process(
        [singer.schema(), singer.record(singer.customer(1)), singer.state("2024-01-01")],
        stream_maps={"customers": {"contactEmail": None}},
        validate_records=True,
    )
    assert run.states[-1]["bookmarks"]["customers"]["replication_key_value"] == "2024-01-01"
    columns = [
        r[0]
        for r in query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'"
        )
    ]
    assert "contactEmail" not in columns
    assert query("SELECT name, referredBy.referredOn IS NOT NULL FROM customers") == [
        ("Customer 1", True)
    ]


def test_composite_keys_are_deduplicated_in_a_batch_and_upserted(target, query, singer):
    schema = singer.schema("customer_metadata", singer.metadata_schema, ["customer_id", "key"])

    def meta(customer_id, key, value):
        return singer.record(
            {
                "customer_id": customer_id,
                "key": key,
                "value": value,
                "scope": "Customer",
                "self": {"href": "v1/x"},
            },
            stream="customer_metadata",
        )

    target.in_process([schema, meta(1, "a", "1"), meta(1, "b", "2"), meta(1, "a", "3")])
    target.in_process([schema, meta(1, "b", "4"), meta(2, "a", "5")], run_id="second")
    rows = query("SELECT customer_id, key, value FROM customer_metadata ORDER BY 1, 2")
    assert rows == [(1, "a", "3"), (1, "b", "4"), (2, "a", "5")]
    assert query(
        "SELECT rows_inserted, rows_updated FROM _equipme_loads WHERE run_id = 'second'"
    ) == [(1, 1)]
