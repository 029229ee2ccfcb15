"""`schema_evolution`: inference, widening and the per-record check (pure logic)."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from tap_equipme import schemas
from tap_equipme.schema_widening import FieldChange, SchemaEvolver
from tap_equipme.type_inference import FREEFORM, infer, merge


@pytest.fixture
def customer() -> dict:
    return {
        "id": 7,
        "name": "Bern Bau AG",
        "self": {"href": "v1/sales/customers/7"},
        "companyAddress": {"id": 1, "city": "Bern", "self": {"href": "x"}},
    }


def test_a_record_the_spec_describes_fits_and_leaves_the_schema_alone(customer):
    spec = schemas.customer_schema()
    evolver = SchemaEvolver(spec)
    assert evolver.fits(customer)
    assert evolver.widen(customer) == []
    assert spec == schemas.customer_schema()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, ["boolean", "null"]),
        (3, ["integer", "null"]),
        (2.5, ["number", "null"]),
        ("x", ["string", "null"]),
        ([1, 2.5], ["array", "null"]),
        ({"a": 1}, ["object", "null"]),
    ],
)
def test_types_are_inferred_from_values(value, expected):
    schema = infer(value)
    assert schema is not None
    assert schema["type"] == expected


@pytest.mark.parametrize("value", [None, {}, [], [None], {"a": None}])
def test_values_that_tell_no_type_infer_nothing(value):
    assert infer(value) is None


def test_integer_and_number_merge_to_number_and_other_mixes_become_free_form():
    assert merge({"type": ["integer", "null"]}, {"type": ["number", "null"]}) == {
        "type": ["number", "null"]
    }
    assert merge({"type": ["integer", "null"]}, {"type": ["string", "null"]}) == FREEFORM
    assert merge(dict(FREEFORM), {"type": ["string", "null"]}) == FREEFORM


def test_unknown_fields_at_every_depth_are_added_and_the_spec_copy_is_untouched(customer):
    spec = schemas.customer_schema()
    evolver = SchemaEvolver(spec)
    customer["segment"] = "enterprise"
    customer["companyAddress"]["latitude"] = 46
    customer["billingAddress"] = {"city": "Bern", "countryCode": "CH"}
    customer["contacts"] = [{"name": "Anna"}, {"name": "Jonas", "role": "CFO"}]
    assert not evolver.fits(customer)
    changes = evolver.widen(customer)
    assert [(c.path, c.kind, c.new_type) for c in changes] == [
        ("companyAddress.latitude", "added", "integer"),
        ("segment", "added", "string"),
        ("billingAddress", "added", "object"),
        ("contacts", "added", "array"),
    ]
    assert evolver.fits(customer)
    jsonschema.validate(customer, evolver.schema)
    assert "segment" not in spec["properties"]
    items = evolver.schema["properties"]["contacts"]["items"]
    assert set(items["properties"]) == {"name", "role"}


def test_a_later_value_that_needs_a_wider_type_widens_it(customer):
    evolver = SchemaEvolver(schemas.customer_schema())
    customer["companyAddress"]["latitude"] = 46
    evolver.widen(customer)
    later = copy.deepcopy(customer)
    later["companyAddress"]["latitude"] = 46.95
    assert not evolver.fits(later)
    assert evolver.widen(later) == [
        FieldChange("companyAddress.latitude", "widened", "integer", "number")
    ]
    jsonschema.validate(later, evolver.schema)
    jsonschema.validate(customer, evolver.schema)


def test_new_keys_inside_objects_of_an_inferred_array_are_added(customer):
    evolver = SchemaEvolver(schemas.customer_schema())
    customer["contacts"] = [{"name": "Anna"}]
    evolver.widen(customer)
    customer["contacts"] = [{"name": "Anna", "phone": "+41"}]
    assert not evolver.fits(customer)
    assert [c.path for c in evolver.widen(customer)] == ["contacts[].phone"]


def test_a_boolean_does_not_pass_for_an_inferred_integer(customer):
    evolver = SchemaEvolver(schemas.customer_schema())
    customer["rank"] = 3
    evolver.widen(customer)
    customer["rank"] = True
    assert not evolver.fits(customer)


def test_spec_declared_types_are_not_second_guessed(customer):
    evolver = SchemaEvolver(schemas.customer_schema())
    customer["name"] = 12  # wrong per the spec: not this module's business
    assert evolver.fits(customer)


def test_strip_unknown_removes_only_undeclared_fields_and_copies_on_write(customer):
    evolver = SchemaEvolver(schemas.customer_schema())
    original = copy.deepcopy(customer)
    grown = copy.deepcopy(customer)
    grown["segment"] = "smb"
    grown["companyAddress"]["latitude"] = 1.5
    stripped, removed = evolver.strip_unknown(grown)
    assert removed == ["companyAddress.latitude", "segment"]
    assert stripped == original
    assert grown["segment"] == "smb"  # the input is not modified
    assert evolver.unknown_paths(grown) == removed


def test_a_field_seen_only_as_null_is_held_back_until_it_has_a_value(customer):
    evolver = SchemaEvolver(schemas.customer_schema())
    customer["segment"] = None
    customer["billingAddress"] = {"city": "Bern", "line1": None}
    assert not evolver.fits(customer)
    assert [c.path for c in evolver.widen(customer)] == ["billingAddress"]
    emitted, held = evolver.strip_unknown(customer)
    assert held == ["segment", "billingAddress.line1"]
    assert emitted["billingAddress"] == {"city": "Bern"}
    jsonschema.validate(emitted, evolver.schema)
    customer["segment"] = "smb"
    assert [c.path for c in evolver.widen(customer)] == ["segment"]


def test_mixed_types_become_free_form_and_stay_valid(customer):
    evolver = SchemaEvolver(schemas.customer_schema())
    customer["code"] = 5
    evolver.widen(customer)
    customer["code"] = "A5"
    assert evolver.widen(customer) == [FieldChange("code", "widened", "integer", "any")]
    for value in (5, "A5", [1], {"x": 1}):
        customer["code"] = value
        assert evolver.fits(customer)
        jsonschema.validate(customer, evolver.schema)
