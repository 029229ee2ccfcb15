"""singer-sdk's standard target tests, against `target-duckdb-lake` on every destination.

The SDK builds each test class at import time from a config, so each destination's place is
fixed here (a fresh temporary directory, removed when the module's tests end). Every test of
the suite runs; none is skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from singer_sdk.testing import get_target_test_class

from tap_equipme.warehouse.target import TargetDuckdbLake

_ROOT = Path(tempfile.mkdtemp(prefix="equipme-sdk-target-"))


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    shutil.rmtree(_ROOT, ignore_errors=True)


TestTargetDuckdbFile = get_target_test_class(
    TargetDuckdbLake, config={"destination": "duckdb", "path": str(_ROOT / "w.duckdb")}
)
TestTargetParquetDirectory = get_target_test_class(
    TargetDuckdbLake, config={"destination": "parquet", "path": str(_ROOT / "parquet")}
)
TestTargetDuckLakeLocalCatalog = get_target_test_class(
    TargetDuckdbLake,
    config={
        "destination": "ducklake",
        "path": str(_ROOT / "catalog.ducklake"),
        "lake_data_path": str(_ROOT / "lake_data"),
    },
)
