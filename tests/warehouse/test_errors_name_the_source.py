"""Bad input is reported in the source's own words (stream, key, field), and a target that
never writes holds no lock."""

from __future__ import annotations

import io
import json

import pytest

from tap_equipme.warehouse.duckdb_writer import MissingKeyError
from tap_equipme.warehouse.target import TargetDuckdbLake


def _schema(properties: dict, keys: list[str]) -> dict:
    return {
        "type": "SCHEMA",
        "stream": "odd_stream",
        "schema": {"type": "object", "properties": properties},
        "key_properties": keys,
    }


def test_a_record_without_its_key_names_the_stream_and_the_key(target):
    schema = _schema({"order_no": {"type": "integer"}, "n": {"type": "integer"}}, ["order_no"])
    rows = [{"order_no": 1, "n": 1}, {"n": 2}]
    messages = [schema, *({"type": "RECORD", "stream": "odd_stream", "record": r} for r in rows)]
    run = target.cli(messages)
    assert run.returncode == 1
    assert "Stream 'odd_stream': a record has no value for key property 'order_no'" in run.stderr
    assert "record 2 of its batch" in run.stderr
    assert "__equipme" not in run.stderr, "no internal table in the message"


def test_a_record_without_its_key_raises_singer_sdks_error_in_process(target):
    schema = _schema({"id": {"type": "integer"}}, ["id"])
    record = {"type": "RECORD", "stream": "odd_stream", "record": {}}
    with pytest.raises(MissingKeyError, match="key property 'id'"):
        target.in_process([schema, record])


def test_a_property_with_an_empty_name_is_one_clear_error(target):
    schema = _schema({"id": {"type": "integer"}, "": {"type": "string"}}, ["id"])
    run = target.cli([schema, {"type": "RECORD", "stream": "odd_stream", "record": {"id": 1}}])
    assert run.returncode == 1
    assert "Stream 'odd_stream': a property has an empty name" in run.stderr
    assert "Traceback" not in run.stderr
    assert "Parser Error" not in run.stderr


def test_a_target_that_never_writes_holds_no_parquet_directory_lock(tmp_path):
    config = {"destination": "parquet", "path": str(tmp_path / "lake")}
    idle = TargetDuckdbLake(config=config)  # built, never written to (as the SDK's harness)
    messages = [
        {
            "type": "SCHEMA",
            "stream": "s",
            "schema": {"properties": {"id": {"type": "integer"}}},
            "key_properties": ["id"],
        },
        {"type": "RECORD", "stream": "s", "record": {"id": 1}},
    ]
    body = "".join(json.dumps(m) + "\n" for m in messages).encode()
    TargetDuckdbLake(config=config).listen(io.BytesIO(body))
    assert (tmp_path / "lake" / "s.parquet").is_file()
    assert idle is not None
