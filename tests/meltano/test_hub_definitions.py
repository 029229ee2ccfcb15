"""The Meltano Hub plugin definitions in meltano/: generated from `--about` and in step with
it, and installable with `meltano add --from-ref` into a new project that `meltano run`s."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import duckdb
import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MELTANO = PROJECT_ROOT / ".venv-meltano" / "bin" / "meltano"
SCRIPT = PROJECT_ROOT / "scripts" / "plugin_about.py"
DEFINITIONS = {
    "tap-equipme": ("extractor", PROJECT_ROOT / "meltano" / "extractors" / "tap-equipme.yml"),
    "target-duckdb-lake": (
        "loader",
        PROJECT_ROOT / "meltano" / "loaders" / "target-duckdb-lake.yml",
    ),
}


def load_script():
    spec = importlib.util.spec_from_file_location("plugin_about", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return load_script()


@pytest.fixture(scope="module")
def abouts(script) -> dict[str, dict]:
    """Each plugin's `--about --format=json`, run once (a few seconds each)."""
    return {plugin: script.about(plugin) for plugin in DEFINITIONS}


@pytest.mark.parametrize("plugin", sorted(DEFINITIONS))
def test_the_committed_definition_is_what_about_generates_now(script, abouts, plugin):
    # If this fails: run `.venv/bin/python scripts/plugin_about.py` and commit meltano/.
    generated = script.hub_yaml(script.hub_definition(plugin, abouts[plugin]))
    assert DEFINITIONS[plugin][1].read_text(encoding="utf-8") == generated


@pytest.mark.parametrize("plugin", sorted(DEFINITIONS))
def test_a_definition_declares_exactly_the_plugins_settings_and_capabilities(abouts, plugin):
    about = abouts[plugin]
    definition = yaml.safe_load(DEFINITIONS[plugin][1].read_text(encoding="utf-8"))
    assert definition["name"] == definition["executable"] == plugin
    assert definition["pip_url"] == f"tap-equipme=={about['version']}"
    assert sorted(definition["capabilities"]) == sorted(about["capabilities"])
    settings = {s["name"]: s for s in definition["settings"]}
    assert list(settings) == list(about["settings"]["properties"])
    for name, spec in about["settings"]["properties"].items():
        assert settings[name].get("sensitive", False) == bool(spec.get("secret")), name
        assert {"name", "label", "kind", "description"} <= set(settings[name]), name
        if spec.get("enum"):
            options = [o["value"] for o in settings[name]["options"]]
            assert options == [v for v in spec["enum"] if v is not None], name
    required = about["settings"].get("required")
    assert definition.get("settings_group_validation") == ([sorted(required)] if required else None)


def test_the_api_key_is_a_password_that_meltano_redacts():
    definition = yaml.safe_load(DEFINITIONS["tap-equipme"][1].read_text(encoding="utf-8"))
    api_key = next(s for s in definition["settings"] if s["name"] == "api_key")
    assert api_key["kind"] == "password"
    assert api_key["sensitive"] is True


def meltano(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_EQUIPME", "TARGET_"))}
    proc = subprocess.run(
        [str(MELTANO), *args],
        cwd=project,
        env={
            **base,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONWARNINGS": "ignore",
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, (
        f"meltano {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-5000:]}\n"
        f"{proc.stderr[-5000:]}"
    )
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_meltano_add_from_ref_installs_both_into_a_new_project_and_runs(
    built_wheel, tmp_path, sandbox, api_key, landed
):
    if not MELTANO.exists():
        pytest.fail(f"{MELTANO} is missing: run `make meltano` first")
    project = tmp_path / "project"
    project.mkdir()
    (project / "meltano.yml").write_text(
        "version: 1\ndefault_environment: dev\nproject_id: hub-definitions-test\n"
        "send_anonymous_usage_stats: false\nenvironments:\n- name: dev\n",
        encoding="utf-8",
    )
    for plugin, (kind, path) in DEFINITIONS.items():
        # As a user of a locally built wheel would: the same definition, pip_url -> the wheel.
        definition = yaml.safe_load(path.read_text(encoding="utf-8"))
        definition["pip_url"] = str(built_wheel)
        ref = tmp_path / f"{plugin}.yml"
        ref.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
        meltano(project, "add", kind, plugin, "--from-ref", str(ref))

    declared = yaml.safe_load((project / "meltano.yml").read_text(encoding="utf-8"))["plugins"]
    assert [p["name"] for p in declared["extractors"]] == ["tap-equipme"]
    assert [p["name"] for p in declared["loaders"]] == ["target-duckdb-lake"]

    warehouse = tmp_path / "hub.duckdb"
    env = {
        "TAP_EQUIPME_API_KEY": api_key,
        "TAP_EQUIPME_API_URL": sandbox.base_url,
        "TARGET_DUCKDB_LAKE_PATH": str(warehouse),
    }
    listed = meltano(project, "config", "list", "tap-equipme", env=env)
    assert api_key not in listed
    output = meltano(project, "run", "tap-equipme", "target-duckdb-lake", env=env)
    assert api_key not in output
    assert landed.differences("duckdb", warehouse, sandbox.control.snapshot()) == []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (status,) = con.execute("SELECT DISTINCT status FROM _equipme_loads").fetchone()
    assert status == "succeeded"
