from __future__ import annotations

import time

from tap_equipme.sandbox.data import EMPLOYEES, customer_details, generate_cores

from .helpers import Api


def test_100k_customers_are_generated_within_a_few_seconds() -> None:
    started = time.perf_counter()
    cores = generate_cores(100_000, seed=1)
    elapsed = time.perf_counter() - started
    assert len(cores) == 100_000
    assert elapsed < 5
    assert len({core.name for core in cores}) > 80_000  # realistic and mostly unique


def test_generation_is_deterministic_per_seed() -> None:
    first, again, other = generate_cores(300, 5), generate_cores(300, 5), generate_cores(300, 6)
    assert first == again
    assert [c.name for c in first] != [c.name for c in other]
    assert customer_details(5, first[10], {c.id: c for c in first}.get) == customer_details(
        5, again[10], {c.id: c for c in again}.get
    )


def test_creation_times_increase_with_id() -> None:
    created = [core.created_us for core in generate_cores(1000, 2)]
    assert created == sorted(created)


def test_data_has_many_countries_non_ascii_text_nulls_and_empty_strings(api: Api) -> None:
    customers = api.all_customers()
    text = " ".join(str(c) for c in customers)
    for sample in ("ü", "é", "ø", "ł", "ñ", "ß"):
        assert sample in text, sample
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    countries = {c["companyAddress"]["countryCode"] for c in customers if "companyAddress" in c}
    assert len(countries) >= 10
    assert any(c["description"] is None for c in customers)
    assert any(c["customerNumber"] == "" for c in customers) or any(
        c["contactName"] == "" for c in customers
    )
    assert any("referredBy" in c for c in customers)
    assert {c["language"] for c in customers if "language" in c} >= {"de", "fr", "pl", "en"}
    managers = {c["accountManager"]["id"] for c in customers if "accountManager" in c}
    assert managers <= {employee.id for employee in EMPLOYEES}
