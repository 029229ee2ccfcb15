"""equipme-sync into DuckLake (PostgreSQL catalog, S3 data path) against the sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SYNC = str(Path(sys.executable).parent / "equipme-sync")
PG_PASSWORD = "pg-password-9c2e-DO-NOT-LEAK"


def test_sync_into_a_lake_on_s3_is_incremental_checked_and_leaks_no_credential(
    sandbox: Any,
    api_key: str,
    lake: Any,
    lake_s3: Any,
    lake_postgres: Any,
    lake_servers: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    from tap_equipme.pipeline.quality import check_warehouse
    from tap_equipme.warehouse.state import read_state

    lake.settings = lake_s3.settings(tmp_path.name)
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"api_url": sandbox.base_url}))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_EQUIPME_")},
        **lake_servers.s3_env(),
        # The embedded server trusts local connections; libpq still reads the variable.
        "PGPASSWORD": PG_PASSWORD,
        "TAP_EQUIPME_API_KEY": api_key,
    }
    argv = [
        SYNC,
        "--destination", "ducklake",
        "--path", lake.catalog,
        "--lake-data-path", lake.settings["lake_data_path"],
        "--lake-schema", "acme",
        "--s3-endpoint", lake.settings["s3_endpoint"],
        "--s3-region", lake.settings["s3_region"],
        "--s3-url-style", "path",
        "--no-s3-use-ssl",
        "--config", str(config),
        "--json",
    ]  # fmt: skip
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert summary["loads"]["customers"]["rows_inserted"] == 200
    settings = {**lake.settings, "lake_schema": "acme"}
    state = read_state("ducklake", lake.catalog, settings)  # inlined in the catalog: no S3 read
    assert state is not None
    assert state["bookmarks"]["customers"]["replication_key_value"] == summary["bookmark_after"]

    sandbox.control.create_customers([{"name": f"Lake Newcomer {i}"} for i in range(3)])
    second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    again = json.loads(second.stdout)
    assert again["bookmark_before"] == summary["bookmark_after"]
    assert again["loads"]["customers"]["rows_inserted"] == 3

    for name, value in lake_servers.s3_env().items():  # this process reads the lake too
        monkeypatch.setenv(name, value)
    report = check_warehouse("ducklake", lake.catalog, lake=settings)
    assert report.live_customers == 203
    assert report.duplicate_customer_ids == 0

    secret_values = [lake_servers.S3_SECRET, PG_PASSWORD, api_key]
    channels = {
        "stdout/stderr": first.stdout + first.stderr + second.stdout + second.stderr,
        "state": json.dumps(state),
        "catalog database": lake_postgres.dump(lake.catalog),
        "lake files": "".join(
            lake_s3.client()
            .get_object(Bucket=lake_s3.bucket, Key=key)["Body"]
            .read()
            .decode("latin-1")
            for key in lake_s3.keys(tmp_path.name)
        ),
    }
    for name, text in channels.items():
        for secret in secret_values:
            assert secret not in text, f"a credential leaked into the {name}"
    assert lake_s3.keys(tmp_path.name), "no file reached the bucket"
