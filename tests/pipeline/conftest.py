"""Fixtures of the pipeline tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def load_warehouse_match() -> ModuleType:
    """Load the shared sandbox-vs-warehouse comparison module by path."""
    path = Path(__file__).resolve().parent / "warehouse_match.py"
    spec = importlib.util.spec_from_file_location("equipme_warehouse_match", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def landed() -> ModuleType:
    """`differences(destination, path, snapshot)`, `live_rows(...)`, `deleted_ids(...)`."""
    return load_warehouse_match()
