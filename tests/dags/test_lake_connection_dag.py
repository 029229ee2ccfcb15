"""The DAG reads the lake from the `equipme_lake` Connection (real Airflow secrets lookup).

One subprocess imports the DAG file and looks up each case's Connection (given as
`AIRFLOW_CONN_EQUIPME_LAKE`, Airflow's environment secrets backend).
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = r"""
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("equipme_dag", sys.argv[1])
dag = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dag)  # the DAG file parses; its tasks read the lake this way:
from tap_equipme.airflow.dag_settings import lake_from_connection
results = []
for connection in json.loads(sys.argv[2]):
    os.environ.pop("AIRFLOW_CONN_EQUIPME_LAKE", None)
    if connection is not None:
        os.environ["AIRFLOW_CONN_EQUIPME_LAKE"] = json.dumps(connection)
    out = {}
    try:
        target = lake_from_connection()
        out["catalog"], out["settings"] = target.catalog, target.settings
        out["credential_names"] = sorted(target.credentials)
        out["repr"] = repr(target)
    except Exception as exc:
        out["error"] = [type(exc).__name__, str(exc)]
    results.append(out)
print(json.dumps(results))
"""
SECRET = "lake-Pass-3c9e"


def probe(airflow, *connections: dict | None) -> list[dict]:
    env = {k: v for k, v in airflow.env.items() if k != "AIRFLOW_CONN_EQUIPME_LAKE"}
    dag_file = airflow.env["AIRFLOW__CORE__DAGS_FOLDER"] + "/equipme_customers.py"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, dag_file, json.dumps(connections)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert SECRET not in proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_lake_connection_gives_the_catalog_and_settings_and_keeps_the_secrets_apart(
    airflow_unmigrated,
):
    good = {
        "conn_type": "postgres",
        "host": "catalog.internal",
        "port": 5432,
        "schema": "equipme_lake",
        "login": "loader",
        "password": SECRET,
        "extra": {
            "data_path": "s3://lake/equipme/",
            "s3_url_style": "path",
            "aws_access_key_id": "AKIAEXAMPLE",
            "aws_secret_access_key": SECRET + "-s3",
        },
    }
    wrong = {"conn_type": "postgres", "host": "db", "password": SECRET, "extra": {"bucket": "x"}}
    out, missing, bad = probe(airflow_unmigrated, good, None, wrong)
    assert out["catalog"] == (
        "postgres:host=catalog.internal port=5432 dbname=equipme_lake user=loader"
    )
    assert out["settings"] == {"lake_data_path": "s3://lake/equipme/", "s3_url_style": "path"}
    assert out["credential_names"] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"]

    # A missing or wrong Connection fails the task at once: retrying cannot fix it.
    assert missing["error"][0] == "AirflowFailException"
    assert "Connection 'equipme_lake' is not defined" in missing["error"][1]
    assert bad["error"][0] == "AirflowFailException"
    assert "schema is empty" in bad["error"][1]
