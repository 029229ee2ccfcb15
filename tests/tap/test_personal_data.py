"""The personal-data policy's pieces: the spec-derived field list, the hash, the checks."""

from __future__ import annotations

import hashlib
import hmac
import json

from tap_equipme.personal_data import (
    PersonalDataPolicy,
    config_problems,
    default_personal_fields,
)
from tap_equipme.personal_hash import Hasher

KEY = "unit-test-key-5f0c2a9e"


def test_the_defaults_come_from_the_spec_wherever_an_employee_reference_sits() -> None:
    fields = default_personal_fields()
    for name in ("contactName", "contactEmail", "contactPhone", "description"):
        assert f"customers.{name}" in fields
    # free text and address lines that name people in practice (erase blanks the same list)
    assert "customers.companyAddress.line1" in fields
    assert "customers.companyAddress.phoneNumber" in fields
    assert "customers.companyAddress.city" not in fields
    for where in ("accountManager", "referredBy.employee"):
        for name in ("firstName", "lastName", "fullName", "email", "username"):
            assert f"customers.{where}.{name}" in fields
    assert "customers.name" not in fields  # the company's name is not a person's
    assert "customers.accountManager.costCenter" not in fields
    assert fields[-1] == "customer_metadata.value"


def test_the_fast_hash_is_hmac_sha256_of_the_normalized_value() -> None:
    hasher = Hasher(KEY)
    long_key = Hasher("k" * 100)  # keys over one block are hashed first (RFC 2104)
    for value, normalized in [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("Jane Doe", "Jane Doe"),
        ("+49 30 1234567", "+49 30 1234567"),
    ]:
        expected = hmac.new(KEY.encode(), normalized.encode(), hashlib.sha256).hexdigest()
        assert hasher(value) == expected
        assert hasher(value) == expected  # from the cache
        assert long_key(value) == hmac.new(b"k" * 100, normalized.encode(), "sha256").hexdigest()
    assert KEY not in repr(hasher)


def _reference(key: str, value: object) -> str:
    """HMAC-SHA-256 as docs/personal-data.md states it, with the standard library's `hmac`."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.strip()
    text = text.lower() if "@" in text else text
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_the_record_path_hashes_exactly_as_the_reference_hmac() -> None:
    values = [
        "  Jane.Doe@Example.COM ",  # trimmed, an email lower-cased
        "JANE.DOE@EXAMPLE.COM",
        "Jane Doe",  # not an email: case kept
        "\tJANE DOE\n",
        "Lefèvre, Claire",
        "佐藤健一",
        "ÖZGÜR@Beispiel.DE",  # non-ASCII email: Unicode lower-casing
        "İstanbul Ofisi",
        "\u00a0Zoë\u2003",  # Unicode spaces are stripped too (str.strip)
        "+49 30 1234567",
        "   ",  # whitespace only: the hash of ""
        "😀 emoji@x.example",
        42,
        3.5,
        True,
        {"b": 1, "a": "x"},  # an object: its JSON text, keys sorted
        ["a", "b"],
    ]
    policy = PersonalDataPolicy.from_config(
        {"personal_data_default": "hash", "personal_data_key": KEY}, {}
    )
    scrub = policy.scrubber("customers")
    assert scrub is not None
    for value in values:
        for field, get in [
            ("contactEmail", lambda out: out["contactEmail"]),
            ("accountManager", lambda out: out["accountManager"]["email"]),
        ]:
            # Twice: the first call computes (a memo miss), the second reads the memo.
            for _ in range(2):
                record = {"contactEmail": value, "accountManager": {"email": value}}
                assert get(scrub(record)) == _reference(KEY, value), (field, value)
    # Many distinct values push the memo through its generations; all still exact.
    hasher = Hasher(KEY)
    for i in range(20_000):
        value = f" Person{i}@Example.com " if i % 2 else f"+41 44 {i:06d}"
        assert hasher(value) == _reference(KEY, value)
    assert hasher(" Person1@Example.com ") == _reference(KEY, "person1@example.com")
    assert scrub({"contactEmail": ""})["contactEmail"] == ""  # nothing to hash
    assert KEY not in repr(hasher.memo)
    assert "Person1" not in repr(hasher.memo)  # the memo never shows values


def test_a_record_is_hashed_dropped_and_kept_per_field() -> None:
    policy = PersonalDataPolicy.from_config(
        {
            "personal_data_default": "hash",
            "personal_data": {"customers.contactPhone": "drop", "customers.contactName": "keep"},
            "personal_data_key": KEY,
        },
        {},
    )
    scrub = policy.scrubber("customers")
    assert scrub is not None
    record = {
        "id": 1,
        "name": "Acme AG",
        "contactName": "Jane Doe",
        "contactEmail": "Jane@Acme.example",
        "contactPhone": "+41 44 000",
        "accountManager": {"id": 7, "lastName": "Muster", "costCenter": "CH"},
        "referredBy": None,
    }
    out = scrub(record)
    assert out["contactName"] == "Jane Doe"
    assert out["contactPhone"] is None
    assert out["contactEmail"] == Hasher(KEY)("jane@acme.example")
    assert out["accountManager"] == {"id": 7, "lastName": Hasher(KEY)("Muster"), "costCenter": "CH"}
    assert out["referredBy"] is None
    assert out["id"] == 1
    assert out["name"] == "Acme AG"
    assert scrub({"id": 2, "contactEmail": ""})["contactEmail"] == ""  # nothing to hash


def test_metadata_values_follow_the_key_patterns() -> None:
    policy = PersonalDataPolicy.from_config(
        {"personal_data_default": "drop", "personal_data_metadata_keys": ["*email*", "owner"]}, {}
    )
    scrub = policy.scrubber("customer_metadata")
    assert scrub is not None
    assert scrub({"customer_id": 1, "key": "BillingEmail", "value": "a@b.c"})["value"] is None
    assert scrub({"customer_id": 1, "key": "owner", "value": "Ann"})["value"] is None
    assert scrub({"customer_id": 1, "key": "ownerId", "value": "42"})["value"] == "42"


def test_keep_everywhere_costs_the_record_path_nothing() -> None:
    policy = PersonalDataPolicy.from_config({}, {})
    assert policy.scrubber("customers") is None
    assert policy.scrubber("customer_metadata") is None
    assert policy.scrubber("customer_metadata_reads") is None


def test_the_checks_name_the_setting_the_field_and_never_the_key() -> None:
    assert config_problems({}, {}) == []
    assert (
        config_problems({"personal_data_default": "hash"}, {"TAP_EQUIPME_PERSONAL_DATA_KEY": KEY})
        == []
    )
    missing = config_problems({"personal_data": {"customers.contactEmail": "hash"}}, {})
    assert len(missing) == 1
    assert "personal_data_key" in missing[0]
    assert "TAP_EQUIPME_PERSONAL_DATA_KEY" in missing[0]
    assert "'customers.contactEmail'" in missing[0]
    short = config_problems({"personal_data_default": "hash", "personal_data_key": "s3cret"}, {})
    assert "shorter than 16" in short[0]
    assert "s3cret" not in short[0]
    typo = config_problems({"personal_data": {"customers.contactMail": "drop"}}, {})
    assert "'customers.contactMail'" in typo[0]
    assert "no field 'contactMail'" in typo[0]
    stream = config_problems({"personal_data": {"orders.email": "drop"}}, {})
    assert "'orders.email'" in stream[0]
    bad = config_problems({"personal_data": {"customers.contactName": "encrypt"}}, {})
    assert "'encrypt'" in bad[0]


def test_a_whole_object_dropped_covers_the_fields_inside_it() -> None:
    policy = PersonalDataPolicy.from_config(
        {"personal_data_default": "drop", "personal_data": {"customers.accountManager": "drop"}},
        {},
    )
    scrub = policy.scrubber("customers")
    assert scrub is not None
    out = scrub({"id": 1, "accountManager": {"id": 7, "lastName": "Muster"}, "contactName": "A"})
    assert out == {"id": 1, "accountManager": None, "contactName": None}
    schema = policy.mark_schema("customers", {"properties": {"accountManager": {
        "type": "object", "properties": {"lastName": {"type": "string"}}}}})  # fmt: skip
    assert schema["properties"]["accountManager"]["x-personal-data-policy"] == "drop"
    assert schema["properties"]["accountManager"]["type"] == ["object", "null"]
