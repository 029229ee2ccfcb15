"""The personal-data policy end to end: the real tap and loader against the sandbox over HTTP.

keep / hash / drop must be what lands in the warehouse; hashing must be the documented
HMAC-SHA-256 of the normalized value (so a data team can hash a value of its own and join);
the key must appear nowhere (output, warehouse file); a hash policy without a key must stop
before anything runs, naming the setting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.sync import SyncError, run_sync

KEY = "pii-key-0b7d41e2-DO-NOT-LEAK"
SYNC = str(Path(sys.executable).parent / "equipme-sync")


def expected_hash(value: str) -> str:
    text = value.strip()
    text = text.lower() if "@" in text else text
    return hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_keep_hash_and_drop_land_as_set_with_the_documented_hmac(
    tap_config: dict[str, Any], sandbox: Any, sandbox_writes: Any, tmp_path: Path
) -> None:
    sandbox_writes.put_metadata(3, "billingContactEmail", "  Billing.Desk@Example.COM ")
    path = tmp_path / "wh.duckdb"
    config = {
        **tap_config,
        "personal_data_default": "hash",
        "personal_data": {"customers.contactPhone": "drop", "customers.contactName": "keep"},
        "personal_data_key": KEY,
    }
    summary = run_sync(config, "duckdb", path, progress_out=None)
    assert summary.status == "succeeded"
    api = {c["id"]: c for c in sandbox.control.snapshot()["customers"]}
    landed = rows(
        path,
        "SELECT id, contactName, contactEmail, contactPhone, accountManager.lastName, "
        "accountManager.email, name FROM customers",
    )
    assert len(landed) == len(api)
    emails = 0
    for cid, name, email, phone, manager, manager_email, company in landed:
        source = api[cid]
        assert name == source["contactName"]  # keep
        assert phone is None  # drop
        assert company == source["name"]  # not personal: untouched
        if source["contactEmail"]:
            emails += 1
            assert email == expected_hash(source["contactEmail"])  # hash
        else:
            assert email == source["contactEmail"]  # None, or "": nothing to hash
        if source.get("accountManager"):
            assert manager == expected_hash(source["accountManager"]["lastName"])
            assert manager_email == expected_hash(source["accountManager"]["email"])
    assert emails > 50
    assert api[3]["contactPhone"] is not None or any(c["contactPhone"] for c in api.values())
    metadata = dict(rows(path, "SELECT key, value FROM customer_metadata WHERE customer_id = 3"))
    # A key matching '*email*' / '*contact*': hashed as the email it is (trimmed, lower case).
    assert metadata["billingContactEmail"] == expected_hash("billing.desk@example.com")
    others = {k: v for k, v in metadata.items() if k != "billingContactEmail"}
    source_items = {m["key"]: m["value"] for m in sandbox.control.snapshot()["metadata"]["3"]}
    assert others == {k: v for k, v in source_items.items() if k != "billingContactEmail"}
    # The key itself is nowhere in the warehouse file.
    assert KEY.encode() not in path.read_bytes()


def test_the_catalog_and_schema_reach_the_loader_marked(
    tap_config: dict[str, Any], sandbox: Any, tmp_path: Path
) -> None:
    # The loader's suppression list relies on the marks: they must survive the tap's catalog
    # (singer-sdk's Schema objects drop unknown keywords) into the SCHEMA messages.
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({k: tap_config[k] for k in ("api_key", "api_url")}))
    discovered = subprocess.run(
        [str(Path(sys.executable).parent / "tap-equipme"), "--config", str(config), "--discover"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    catalog = tmp_path / "catalog.json"
    catalog.write_text(discovered.stdout)
    entries = {e["tap_stream_id"]: e["schema"] for e in json.loads(discovered.stdout)["streams"]}
    contact = entries["customers"]["properties"]["contactEmail"]
    assert contact["x-personal-data"] is True
    assert contact["x-personal-data-policy"] == "keep"
    manager = entries["customers"]["properties"]["accountManager"]["properties"]
    assert manager["lastName"]["x-personal-data"] is True
    assert "x-personal-data" not in manager["costCenter"]
    ran = subprocess.run(
        [str(Path(sys.executable).parent / "tap-equipme"), "--config", str(config),
         "--catalog", str(catalog)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    schema_lines = [line for line in ran.stdout.splitlines() if '"type":"SCHEMA"' in line]
    customers = next(line for line in schema_lines if '"stream":"customers"' in line)
    # contact (3), description, 2 x employee (5 each), address line1 and phone
    assert customers.count('"x-personal-data":true') == 16
    metadata = next(line for line in schema_lines if '"stream":"customer_metadata"' in line)
    assert metadata.count('"x-personal-data":true') == 1


def test_hash_without_a_key_stops_before_anything_runs_naming_the_setting(
    tap_config: dict[str, Any], sandbox: Any, tmp_path: Path
) -> None:
    path = tmp_path / "wh.duckdb"
    with pytest.raises(SyncError) as caught:
        run_sync(
            {**tap_config, "personal_data": {"customers.contactEmail": "hash"}},
            "duckdb",
            path,
            progress_out=None,
        )
    message = str(caught.value)
    assert "personal_data_key" in message
    assert "TAP_EQUIPME_PERSONAL_DATA_KEY" in message
    assert "'customers.contactEmail'" in message
    assert not path.exists()


def test_the_tap_alone_refuses_hash_without_a_key_and_a_short_key(
    tap_config: dict[str, Any], tmp_path: Path
) -> None:
    config = tmp_path / "tap.json"
    config.write_text(
        json.dumps(
            {**{k: tap_config[k] for k in ("api_key", "api_url")}, "personal_data_default": "hash"}
        )
    )
    tap = str(Path(sys.executable).parent / "tap-equipme")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_EQUIPME_")}
    missing = subprocess.run(
        [tap, "--config", str(config)], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode != 0
    assert "TAP_EQUIPME_PERSONAL_DATA_KEY" in missing.stderr
    assert "RECORD" not in missing.stdout
    short = subprocess.run(
        [tap, "--config", str(config)],
        env={**env, "TAP_EQUIPME_PERSONAL_DATA_KEY": "short-S3CRET"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert short.returncode != 0
    assert "shorter than 16" in short.stderr
    assert "short-S3CRET" not in short.stderr + short.stdout


def test_the_key_from_the_environment_hashes_and_never_shows(
    tap_config: dict[str, Any], sandbox: Any, tmp_path: Path
) -> None:
    config = tmp_path / "tap.json"
    config.write_text(
        json.dumps(
            {"api_url": tap_config["api_url"], "personal_data": {"customers.contactEmail": "hash"}}
        )
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAP_EQUIPME_")},
        "TAP_EQUIPME_API_KEY": tap_config["api_key"],
        "TAP_EQUIPME_PERSONAL_DATA_KEY": KEY,
    }
    path = tmp_path / "wh.duckdb"
    done = subprocess.run(
        [SYNC, "--path", str(path), "--config", str(config), "--json"],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert KEY not in done.stdout + done.stderr
    api = {c["id"]: c for c in sandbox.control.snapshot()["customers"]}
    landed = dict(rows(path, "SELECT id, contactEmail FROM customers"))
    wrong = [
        (cid, c["contactEmail"], landed[cid])
        for cid, c in api.items()
        if landed[cid]
        != (expected_hash(c["contactEmail"]) if c["contactEmail"] else c["contactEmail"])
    ]
    assert wrong == []
    assert KEY.encode() not in path.read_bytes()
