"""The dbt package's generated sources and docs stay in sync with the vendored OpenAPI spec."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "transform" / "models"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    path = ROOT / "scripts" / "dbt_sources.py"
    spec = importlib.util.spec_from_file_location("dbt_sources", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def openapi() -> dict:
    return json.loads((ROOT / "tap_equipme" / "openapi.json").read_text())


def test_generated_files_are_what_the_spec_gives_now(generator, openapi):
    assert (MODELS / "_equipme__openapi_docs.md").read_text() == generator.render_docs(openapi)
    sources = MODELS / "staging" / "_equipme__sources.yml"
    assert sources.read_text() == generator.render_sources(openapi)
    assert generator.main(["--check"]) == 0


def test_a_changed_spec_description_makes_the_check_fail(generator, openapi, tmp_path):
    changed = json.loads(json.dumps(openapi))
    changed["components"]["schemas"]["Address"]["properties"]["city"]["description"] = "Town."
    assert "{% docs equipme__address__city %}Town.{% enddocs %}" in generator.render_docs(changed)
    assert generator.render_docs(changed) != (MODELS / "_equipme__openapi_docs.md").read_text()


def test_every_spec_field_of_a_customer_is_a_described_source_column(openapi):
    sources = yaml.safe_load((MODELS / "staging" / "_equipme__sources.yml").read_text())
    tables = {t["name"]: t for t in sources["sources"][0]["tables"]}
    columns = {c["name"] for c in tables["customers"]["columns"]}
    assert set(openapi["components"]["schemas"]["Customer"]["properties"]) <= columns
    assert {"_loaded_at", "_deleted_at"} <= columns
    assert all(c.get("description") for t in tables.values() for c in t["columns"])


def test_every_doc_reference_has_a_block_and_the_language_values_are_the_specs(openapi):
    docs = (MODELS / "_equipme__openapi_docs.md").read_text()
    blocks = set(re.findall(r"{% docs (\w+) %}", docs))
    for path in MODELS.rglob("*.yml"):
        for name in re.findall(r"doc\('(\w+)'\)", path.read_text()):
            assert name in blocks, f"{path.name}: doc('{name}') has no doc block"
    models = yaml.safe_load((MODELS / "_equipme__models.yml").read_text())
    staging = next(m for m in models["models"] if m["name"] == "stg_equipme__customers")
    language = next(c for c in staging["columns"] if c["name"] == "language")
    accepted = language["data_tests"][0]["accepted_values"]["arguments"]["values"]
    assert accepted == openapi["components"]["schemas"]["Language"]["enum"]
