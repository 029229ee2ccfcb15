"""`meltano run tap-equipme target-jsonl`: a plain Singer target accepts the widened schemas."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_fields_beyond_the_spec_reach_a_plain_jsonl_target_through_meltano(
    meltano, sandbox, api_key, tmp_path
):
    sandbox.control.reset(customers=30, seed=1)
    sandbox.control.set_extra_fields(
        customer={
            "segment": "enterprise",
            "billingAddress": {"city": "Bern", "countryCode": "CH"},
            "companyAddress.latitude": 46.95,
        },
        metadata={"updatedBy": "api"},
    )
    out = tmp_path / "jsonl"
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TARGET_JSONL_DESTINATION_PATH": str(out),
        "TARGET_JSONL_DO_TIMESTAMP_FILE": "false",
    }
    # target-jsonl validates every record against the latest SCHEMA of its stream (jsonschema,
    # Draft 4) and fails the run on the first that does not fit.
    proc = meltano.run("run", "--full-refresh", "tap-equipme", "target-jsonl", env=env)
    customers = [json.loads(line) for line in (out / "customers.jsonl").read_text().splitlines()]
    assert len(customers) == 30
    assert all(c["segment"] == "enterprise" for c in customers)
    assert all(c["billingAddress"]["city"] == "Bern" for c in customers)
    addresses = [c["companyAddress"] for c in customers if c.get("companyAddress")]
    assert addresses
    assert all(address["latitude"] == 46.95 for address in addresses)
    metadata = (out / "customer_metadata.jsonl").read_text().splitlines()
    assert metadata
    assert all(json.loads(line)["updatedBy"] == "api" for line in metadata)
    assert "'segment' is not in the spec: added as string" in proc.stdout + proc.stderr
    assert api_key not in proc.stdout + proc.stderr
