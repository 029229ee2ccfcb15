"""`meltano run tap-equipme target-duckdb-lake equipme-sync:publish dbt-duckdb:build` (slow).

The dbt-duckdb utility of meltano.yml (pinned, installed by `meltano install` into Meltano's
own venv) builds the package in transform/ over the warehouse the loader just filled.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_meltano_run_loads_then_builds_the_dbt_models(meltano, sandbox, api_key, tmp_path):
    # The throwaway project is a copy of meltano.yml: give it the package where the yml says.
    package = meltano.root / "transform"
    if not package.exists():
        package.symlink_to(ROOT / "transform", target_is_directory=True)
    warehouse, models = tmp_path / "meltano.duckdb", tmp_path / "models.duckdb"
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TARGET_DUCKDB_LAKE_PATH": str(warehouse),
        "EQUIPME_SYNC_PATH": str(warehouse),
        "DBT_DUCKDB_WAREHOUSE": str(warehouse),
        "DBT_DUCKDB_PATH": str(models),
        "DBT_DUCKDB_TARGET_PATH": str(tmp_path / "dbt_target"),
        "DBT_DUCKDB_LOG_PATH": str(tmp_path / "dbt_target" / "logs"),
    }
    suffix = uuid.uuid4().hex[:8]
    run = meltano.run(
        "run",
        "--state-id-suffix",
        suffix,
        "tap-equipme",
        "target-duckdb-lake",
        "equipme-sync:publish",
        "dbt-duckdb:build",
        env=env,
    )
    assert api_key not in run.stdout + run.stderr
    assert (tmp_path / "dbt_target" / "run_results.json").is_file()

    snapshot = sandbox.control.snapshot()
    # The loader knows no source: tap-equipme's reporting views come from the publish step.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
        assert {"customers_report", "customer_counts_by_country"} <= views
        assert con.execute("SELECT count(*) FROM customers_report").fetchall() == [
            (len(snapshot["customers"]),)
        ]
    with duckdb.connect(str(models), read_only=True) as con:
        staged = con.execute(
            "SELECT customer_id, customer_name, customer_number "
            "FROM main_equipme.stg_equipme__customers"
        ).fetchall()
        metadata = con.execute(
            "SELECT count(*) FROM main_equipme.stg_equipme__customer_metadata"
        ).fetchall()[0][0]
    assert sorted(staged) == sorted(
        (c["id"], c["name"], c.get("customerNumber")) for c in snapshot["customers"]
    )
    assert metadata == sum(len(items) for items in snapshot["metadata"].values())
