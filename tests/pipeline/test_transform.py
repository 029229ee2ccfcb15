"""`run_dbt_build`'s reading of dbt's outcome (the DAG's transform task fails on any bad node)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tap_equipme.pipeline import transform
from tap_equipme.pipeline.transform import TransformError


def results(*nodes: tuple[str, str]) -> dict:
    return {
        "results": [{"unique_id": uid, "status": status, "message": "m"} for uid, status in nodes]
    }


def test_a_failed_test_raises_naming_it(tmp_path):
    with pytest.raises(TransformError, match=r"test\.equipme\.unique_x .*fail"):
        transform._summarise(
            results(("model.equipme.a", "success"), ("test.equipme.unique_x", "fail")),
            tmp_path / "m_target",
            1.0,
        )


def test_counts_models_passes_and_warnings(tmp_path):
    summary = transform._summarise(
        results(
            ("model.equipme.a", "success"),
            ("test.equipme.t1", "pass"),
            ("test.equipme.t2", "warn"),
            ("exposure.equipme.e", "no-op"),
        ),
        tmp_path / "models_target",
        2.0,
    )
    assert (summary.models, summary.tests_passed, summary.tests_warned) == (1, 1, 1)
    assert summary.warnings == ["test.equipme.t2: m"]
    assert summary.dbt_path == str(tmp_path / "models.duckdb")
    json.dumps(summary.as_dict())


def test_a_dbt_that_writes_no_results_fails_with_its_output(tmp_path, monkeypatch):
    fake = tmp_path / "dbt"
    fake.write_text("#!/bin/sh\necho 'Runtime Error: equipme_warehouse: no DuckDB file'\nexit 2\n")
    fake.chmod(0o755)
    monkeypatch.setenv("EQUIPME_DBT", str(fake))
    with pytest.raises(TransformError, match=r"exit 2(.|\n)*no DuckDB file"):
        transform.run_dbt_build(
            "duckdb", tmp_path / "missing.duckdb", dbt_path=tmp_path / "m.duckdb", echo=False
        )


def test_default_models_file_sits_beside_the_warehouse(tmp_path):
    assert transform.default_dbt_path("duckdb", tmp_path / "wh.duckdb") == Path(
        tmp_path / "wh_dbt.duckdb"
    )
    assert transform.default_dbt_path("parquet", tmp_path / "pq") == tmp_path / "pq_dbt.duckdb"
