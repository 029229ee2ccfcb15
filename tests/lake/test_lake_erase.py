"""Erasing a contact person from a lake whose catalog is PostgreSQL: the catalog database,
dumped table by table, and every data file hold none of the old values afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.pipeline import erasure_world


def _world_module() -> Any:
    return erasure_world


@pytest.mark.slow
def test_erasure_leaves_no_old_value_in_a_postgres_catalog_or_the_lake_files(
    tmp_path, sandbox, tap_config, lake_postgres, capsys
):
    w = _world_module()
    catalog = lake_postgres.create_database()
    world = w.build("ducklake", tmp_path, tap_config, sandbox, catalog=catalog)
    before = lake_postgres.dump(catalog)
    for value in world.old_values:
        assert value in before or w.leftovers(world, value), value  # the search sees it
    # The catalog itself names old values (the table-level min/max statistics).
    assert any(value in before for value in world.old_values)

    capsys.readouterr()
    assert w.erase(*w.cli_args(world), "--email", world.first_email, "--apply", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keys"] == [str(world.target)]
    assert "vacuumed the PostgreSQL catalog" in report["storage"]
    assert "time travel now reaches back to snapshot" in report["time_travel"]

    dump = lake_postgres.dump(catalog)
    for value in world.old_values:
        assert value not in dump, value
        assert w.leftovers(world, value) == [], value
    assert w.leftovers(world, world.control_value)
    assert world.others() == world.before
