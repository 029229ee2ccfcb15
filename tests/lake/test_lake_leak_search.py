"""The lake leak search (used by the fault matrix's DuckLake rows) finds what is there."""

from __future__ import annotations

from typing import Any

from ..reliability.leaks import lake_containing  # type: ignore[misc]

PLANTED = "planted-7e1d-DO-NOT-LEAK"


def test_the_lake_leak_search_finds_a_planted_key_in_the_catalog_and_the_data_files(
    lake: Any, lake_postgres: Any, singer_lake: Any
) -> None:
    # The state row is small, so DuckLake inlines it into a catalog table; 30 customers go
    # to a Parquet file, where a byte search alone may miss a compressed value.
    bookmark = f"2026-01-01T00:00:00Z {PLANTED}"
    customers = [singer_lake.customer(i, name=f"{PLANTED} {i}") for i in range(1, 31)]
    lake.load(singer_lake.messages(customers, bookmark))
    data = lake.tmp_path / "lake-data"

    found = lake_containing(PLANTED, lake_postgres.dump(lake.catalog), data)

    assert "catalog" in found
    assert any(hit.startswith("parquet ") and hit.endswith(":name") for hit in found), found
    assert lake_containing("absent-secret", lake_postgres.dump(lake.catalog), data) == []
