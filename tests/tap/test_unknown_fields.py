"""Fields the API sends beyond the vendored spec: kept (default), dropped or refused."""

from __future__ import annotations

import logging

import jsonschema
import pytest

from tap_equipme.errors import EquipmeError
from tap_equipme.tap import TapEquipme

GROWN_CUSTOMER = {
    "segment": "enterprise",
    "billingAddress": {"city": "Bern", "countryCode": "CH", "postalCode": "3011"},
    "companyAddress.latitude": 46.95,
}
GROWN_METADATA = {"updatedBy": "api"}


def _validate_in_order(run):
    """Every RECORD is valid against the latest SCHEMA of its stream sent before it."""
    latest: dict[str, jsonschema.Draft7Validator] = {}
    for message in run.messages:
        if message["type"] == "SCHEMA":
            jsonschema.Draft7Validator.check_schema(message["schema"])
            latest[message["stream"]] = jsonschema.Draft7Validator(message["schema"])
        elif message["type"] == "RECORD":
            latest[message["stream"]].validate(message["record"])


def test_a_strict_api_gets_one_schema_per_stream_exactly_the_spec(run_tap, config):
    run = run_tap(config)
    schemas = run.of_type("SCHEMA")
    streams = [m["stream"] for m in schemas]
    assert len(streams) == len(set(streams))  # one SCHEMA per stream
    assert schemas[0]["stream"] == "customers"
    assert schemas[0]["schema"] == TapEquipme(config=config).streams["customers"].schema


def test_new_fields_at_every_depth_reach_the_records_after_a_widened_schema(
    run_tap, config, sandbox
):
    sandbox.control.set_extra_fields(customer=GROWN_CUSTOMER, metadata=GROWN_METADATA)
    run = run_tap(config)
    customers = run.records("customers")
    assert customers
    assert all(r["segment"] == "enterprise" for r in customers)
    assert all(r["billingAddress"]["city"] == "Bern" for r in customers)
    with_address = [r for r in customers if r.get("companyAddress")]
    assert with_address
    assert all(r["companyAddress"]["latitude"] == 46.95 for r in with_address)
    assert all(r["updatedBy"] == "api" for r in run.records("customer_metadata"))
    _validate_in_order(run)
    widened = [m for m in run.of_type("SCHEMA") if m["stream"] == "customers"][-1]["schema"]
    assert widened["properties"]["segment"]["type"] == ["string", "null"]
    address = widened["properties"]["companyAddress"]["properties"]
    assert address["latitude"]["type"] == ["number", "null"]
    billing = widened["properties"]["billingAddress"]
    assert set(billing["properties"]) == {"city", "countryCode", "postalCode"}


def test_the_schema_is_widened_once_not_per_record(run_tap, config, sandbox):
    sandbox.control.set_extra_fields(customer={"segment": "smb"})
    run = run_tap(config)
    streams = [m["stream"] for m in run.of_type("SCHEMA")]
    assert streams.count("customers") == 2  # the spec's, then the widened one


def test_a_field_only_some_customers_carry_is_added_when_it_first_appears(run_tap, config, sandbox):
    sandbox.control.set_extra_fields(customer={"segment": "smb"}, ids=[5])
    run = run_tap(config)
    customers = run.records("customers")
    first = next(i for i, r in enumerate(run.messages) if r.get("record", {}).get("id") == 5)
    schema_before = [m for m in run.messages[:first] if m["type"] == "SCHEMA"][-1]
    assert "segment" in schema_before["schema"]["properties"]
    assert [r["id"] for r in customers if "segment" in r] == [5]
    _validate_in_order(run)


def test_the_run_log_names_each_new_field_once(run_tap, config, sandbox, caplog):
    sandbox.control.set_extra_fields(customer=GROWN_CUSTOMER, metadata=GROWN_METADATA)
    with caplog.at_level(logging.INFO):
        run_tap(config)
    text = "\n".join(r.getMessage() for r in caplog.records if "not in the spec" in r.getMessage())
    for path in ("segment", "billingAddress", "companyAddress.latitude", "updatedBy"):
        assert text.count(f"'{path}'") == 1, text


def test_drop_removes_the_fields_with_one_warning(run_tap, config, sandbox, caplog):
    sandbox.control.set_extra_fields(customer=GROWN_CUSTOMER)
    with caplog.at_level(logging.WARNING):
        run = run_tap({**config, "unknown_fields": "drop"})
    customers = run.records("customers")
    assert customers
    assert not any("segment" in r or "billingAddress" in r for r in customers)
    assert not any("latitude" in (r.get("companyAddress") or {}) for r in customers)
    streams = [m["stream"] for m in run.of_type("SCHEMA")]
    assert len(streams) == len(set(streams))  # nothing widened: one SCHEMA per stream
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1
    assert "companyAddress.latitude" in warnings[0]
    assert "segment" in warnings[0]
    _validate_in_order(run)


def test_fail_stops_naming_stream_and_field_and_emits_nothing_of_that_record(
    run_tap, config, sandbox, last_output
):
    sandbox.control.set_extra_fields(customer={"companyAddress.latitude": 1.5}, ids=[3])
    with pytest.raises(EquipmeError) as failure:
        run_tap({**config, "unknown_fields": "fail"})
    message = str(failure.value)
    assert "customers" in message
    assert "companyAddress.latitude" in message
    assert "unknown_fields" in message
    emitted = [r["id"] for r in last_output().records("customers")]
    assert 3 not in emitted
    assert emitted  # records before it went out


@pytest.mark.parametrize("value", ["maybe", 1, True])
def test_a_bad_unknown_fields_value_is_refused_naming_the_setting(config, value):
    tap = TapEquipme(config={**config, "unknown_fields": value}, validate_config=False)
    problems = tap._validate_config(raise_errors=False)
    assert any("unknown_fields" in p for p in problems), problems


def test_widened_schemas_go_through_flattening_like_the_spec_ones(run_tap, config, sandbox):
    sandbox.control.set_extra_fields(customer={"companyAddress.latitude": 46.95})
    run = run_tap({**config, "flattening_enabled": True, "flattening_max_depth": 1})
    last = [m for m in run.of_type("SCHEMA") if m["stream"] == "customers"][-1]["schema"]
    assert "companyAddress__latitude" in last["properties"]
    flattened = [r for r in run.records("customers") if r.get("companyAddress__id") is not None]
    assert flattened
    assert all(r["companyAddress__latitude"] == 46.95 for r in flattened)
    # Not validated: singer-sdk's flattening keeps `required: [self]` after turning `self`
    # into `self__href`, with the spec's schema as much as with a widened one.
