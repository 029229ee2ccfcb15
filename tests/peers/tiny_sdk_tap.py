"""A tiny singer-sdk tap, written the way the SDK's cookiecutter writes one, for the peer tests.

One FULL_TABLE stream, `price_list`, whose rows come from a JSON file the test edits between
runs; composite string key (`region`, `sku`), a nested object, an array, a column name with a
space. Nothing in it knows tap-equipme or target-duckdb-lake: ACTIVATE_VERSION is whatever
singer-sdk sends (once, before the records, when `emit_activate_version_messages` is on).

`stall_after`: after that many records, sleep instead of ending (a tap stuck mid-refresh, so
a test can signal the target while the version is open).

Run: `python tiny_sdk_tap.py --config config.json`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from typing_extensions import override


class PriceListStream(Stream):
    """Rows of the JSON file named by `rows_file`, full table every run."""

    name = "price_list"
    primary_keys: ClassVar[list[str]] = ["region", "sku"]
    replication_key = None
    schema = th.PropertiesList(
        th.Property("region", th.StringType, required=True),
        th.Property("sku", th.StringType, required=True),
        th.Property("Display Name", th.StringType),
        th.Property("price", th.NumberType),
        th.Property("in_stock", th.BooleanType),
        th.Property("tags", th.ArrayType(th.StringType)),
        th.Property(
            "dimensions",
            th.ObjectType(
                th.Property("width_mm", th.IntegerType),
                th.Property("height_mm", th.IntegerType),
            ),
        ),
    ).to_dict()

    @override
    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        rows = json.loads(Path(self.config["rows_file"]).read_text(encoding="utf-8"))
        stall_after = self.config.get("stall_after")
        for index, row in enumerate(rows):
            if stall_after is not None and index == stall_after:
                sys.stdout.flush()
                time.sleep(3600)
            yield row


class TinySdkTap(Tap):
    """`tap-tiny-sdk`: one FULL_TABLE stream from a JSON file."""

    name = "tap-tiny-sdk"
    config_jsonschema = th.PropertiesList(
        th.Property("rows_file", th.StringType, required=True),
        th.Property("stall_after", th.IntegerType),
        th.Property("emit_activate_version_messages", th.BooleanType, default=False),
    ).to_dict()

    @override
    def discover_streams(self) -> list[Stream]:
        return [PriceListStream(self)]


if __name__ == "__main__":
    TinySdkTap.cli()
