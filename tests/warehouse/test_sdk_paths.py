"""The target behaves like any singer-sdk target: --about, stream maps, flattening, validation."""

from __future__ import annotations

import json
import subprocess

import pytest
from singer_sdk.exceptions import InvalidRecord

EVENTS_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "where": {
            "type": ["object", "null"],
            "properties": {"city": {"type": ["string", "null"]}},
        },
    },
    "required": ["id", "at"],
}


def _events(singer):
    return [
        singer.schema("events", EVENTS_SCHEMA, ["id"]),
        singer.record(
            {"id": 1, "at": "2024-05-01T10:00:00+02:00", "where": {"city": "Köln"}},
            stream="events",
        ),
    ]


def test_about_lists_settings_and_activate_version_capability():
    done = subprocess.run(
        ["target-duckdb-lake", "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    about = json.loads(done.stdout)
    assert "activate-version" in about["capabilities"]
    assert {"destination", "path", "run_id", "batch_size_rows"} <= set(
        about["settings"]["properties"]
    )
    assert about["settings"]["required"] == ["path"]


@pytest.mark.parametrize("settings", [{}, {"validate_records": True}])
def test_top_level_date_time_loads_on_fast_and_standard_paths(target, query, singer, settings):
    target.in_process(_events(singer), **settings)
    # "at" and "where" are SQL keywords: the loader quotes every identifier.
    assert query('SELECT typeof("at"), "at"::VARCHAR, "where".city FROM events') == [
        ("TIMESTAMP WITH TIME ZONE", "2024-05-01 08:00:00+00", "Köln")
    ]


def test_flattening_is_honoured(target, query, singer):
    target.in_process(_events(singer), flattening_enabled=True, flattening_max_depth=1)
    columns = [
        r[0]
        for r in query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'events'"
        )
    ]
    assert "where__city" in columns
    assert query("SELECT where__city FROM events") == [("Köln",)]


def test_validate_records_rejects_a_record_that_breaks_the_schema(target, singer):
    bad = singer.record({"id": 1, "at": 5}, stream="events")
    with pytest.raises(InvalidRecord):
        target.in_process(
            [singer.schema("events", EVENTS_SCHEMA, ["id"]), bad], validate_records=True
        )


def _load_all_paths(target, query, tmp_path, singer, messages):
    """Load the same messages through each record path into its own file; return contents."""
    import io
    import json as json_module

    from tap_equipme.warehouse.target import TargetDuckdbLake

    spaced = "".join(json_module.dumps(m) + "\n" for m in messages).encode()
    compact = singer.lines(messages).encode()
    variants = {
        "whole lines (singer-sdk layout)": (compact, {}),
        "parsed envelope (other key layout)": (spaced, {}),
        "text input": (compact.decode(), {}),
        "singer-sdk standard path": (compact, {"validate_records": True}),
    }
    contents = {}
    for name, (body, settings) in variants.items():
        path = tmp_path / f"{len(contents)}.duckdb"
        target_obj = TargetDuckdbLake(config={"path": str(path), "batch_size_rows": 3, **settings})
        stream = io.StringIO(body) if isinstance(body, str) else io.BytesIO(body)
        target_obj.listen(stream)
        contents[name] = query(
            "SELECT * EXCLUDE (_loaded_at, _first_seen_at, _changed_at) FROM customers ORDER BY id",
            path=path,
        )
    return contents


def test_every_record_path_loads_identical_rows(target, query, tmp_path, singer):
    messages = [
        singer.schema(),
        {"type": "ACTIVATE_VERSION", "stream": "customers", "version": 7},
        *(singer.record(singer.customer(i), version=7) for i in range(1, 6)),
        singer.record(singer.customer(2, name='Ünïcödé "quoted" ✓', contactName=""), version=7),
        singer.record(singer.customer(9, companyAddress=None, referredBy=None), version=7),
        singer.state("2024-01-01"),
    ]
    contents = _load_all_paths(target, query, tmp_path, singer, messages)
    reference = contents["whole lines (singer-sdk layout)"]
    assert len(reference) == 6
    assert any('Ünïcödé "quoted" ✓' in row for row in reference)
    for name, rows in contents.items():
        assert rows == reference, name


def test_batch_messages_with_jsonl_files_are_loaded(target, query, tmp_path, singer):
    import json as json_module

    batch_file = tmp_path / "batch-1.jsonl"
    batch_file.write_text("".join(json_module.dumps(singer.customer(i)) + "\n" for i in (1, 2, 3)))
    batch = {
        "type": "BATCH",
        "stream": "customers",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [batch_file.as_uri()],
    }
    target.in_process([singer.schema(), batch, singer.state("2024-01-01")])
    assert query("SELECT id, companyAddress.city FROM customers ORDER BY id") == [
        (1, "Zürich"),
        (2, "Paris"),
        (3, "Berlin"),
    ]
