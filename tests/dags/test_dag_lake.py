"""The hourly DAG into DuckLake, every lake setting and credential from the `equipme_lake`
Connection (catalog on the embedded PostgreSQL, data on moto's S3): the lake equals the
sandbox, and neither the catalog password nor the S3 secret shows in any output.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.slow
PG_PASSWORD = "pg-lake-pass-51f0-DO-NOT-LEAK"


def test_hourly_dag_loads_the_lake_from_the_connection_alone(
    airflow, sandbox, api_key, lake_postgres, lake_s3, lake_servers, landed, monkeypatch
):
    database = f"lake_{uuid.uuid4().hex[:12]}"
    uri = urlparse(lake_postgres.create_database(database).removeprefix("postgres:"))
    socket_dir = parse_qs(uri.query)["host"][0]
    s3 = lake_s3.settings(database)
    s3_env = lake_servers.s3_env()
    lake_connection = {
        "conn_type": "postgres",
        "host": socket_dir,
        "schema": database,
        "login": "postgres",
        "password": PG_PASSWORD,  # the embedded server trusts its socket; libpq still gets it
        "extra": {
            "data_path": s3["lake_data_path"],
            "s3_endpoint": s3["s3_endpoint"],
            "s3_region": s3["s3_region"],
            "s3_url_style": "path",
            "s3_use_ssl": False,
            "aws_access_key_id": s3_env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": s3_env["AWS_SECRET_ACCESS_KEY"],
        },
    }
    env = {
        "AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(
            {"conn_type": "http", "host": sandbox.base_url, "password": api_key}
        ),
        "AIRFLOW_CONN_EQUIPME_LAKE": json.dumps(lake_connection),
    }
    proc = airflow.run(
        "dags", "test", "equipme_customers_hourly", "-c", '{"destination": "ducklake"}',
        extra_env=env,
    )  # fmt: skip

    catalog = f"postgres:host={socket_dir} dbname={database} user=postgres"
    for name, value in s3_env.items():  # this reader, like the loader, takes them from the env
        monkeypatch.setenv(name, value)
    warehouse = landed.read_lake_warehouse(catalog, s3)
    result = landed.compare_with_snapshot(warehouse, sandbox.control.snapshot())
    assert result.ok, result.summary()
    assert result.customers_compared > 0
    assert any(key.endswith(".parquet") for key in lake_s3.keys(database))
    output = proc.stdout + proc.stderr
    for secret in (PG_PASSWORD, s3_env["AWS_SECRET_ACCESS_KEY"], api_key):
        assert secret not in output
