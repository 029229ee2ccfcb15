"""The built wheel installs into a fresh venv and works there with no checkout on the path:
the four commands, a sync against the sandbox, the DAG file and the Airflow provider."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import duckdb
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]

CHECK_INSTALLED = """
import importlib.metadata as md, json, sys
import tap_equipme
meta = md.metadata("tap-equipme")
dist = md.distribution("tap-equipme")
print(json.dumps({
    "module": tap_equipme.__file__,
    "version": meta["Version"],
    "license": meta["License-Expression"],
    "license_files": meta.get_all("License-File"),
    "files": [str(f) for f in dist.files if f.name in ("LICENSE", "openapi.json")],
    "entry_points": sorted(ep.name for ep in dist.entry_points),
}))
"""

IMPORT_DAG = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("equipme_customers", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from airflow.providers_manager import ProvidersManager
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime
pm = ProvidersManager()
print(json.dumps({
    "dags": sorted(d.dag_id for d in (module.hourly, module.weekly_full_refresh)),
    "tasks": sorted(module.hourly.task_ids),
    "pools": sorted({t.pool for t in module.hourly.tasks}),
    "hook": ProvidersManagerTaskRuntime().hooks["equipme"].hook_class_name,
    "relabeling": pm.field_behaviours["equipme"]["relabeling"],
}))
"""


def run(venv: Path, *args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(venv / "bin" / args[0]), *args[1:]],
        cwd=cwd,
        env={**clean_env(venv), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def clean_env(venv: Path) -> dict[str, str]:
    """The environment minus anything that could put the checkout or our venv on the path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "VIRTUAL_ENV", "TAP_EQUIPME", "AIRFLOW", "PYTEST"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"
    env["PYTHONWARNINGS"] = "ignore"
    return env


@pytest.mark.slow
def test_the_wheel_installs_and_runs_in_a_fresh_venv(built_wheel, tmp_path, sandbox, api_key):
    sdist = next(built_wheel.parent.glob("tap_equipme-*.tar.gz"))
    with tarfile.open(sdist) as archive:
        names = {Path(n).name for n in archive.getnames()}
    assert {"LICENSE", "pyproject.toml", "README.md", "openapi.json"} <= names

    venv, work = tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The wheel and Airflow only (from the configured package index); no -e, no checkout.
    run(
        venv,
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        f"{built_wheel}[airflow]",
        cwd=work,
    )

    installed = json.loads(run(venv, "python", "-c", CHECK_INSTALLED, cwd=work))
    assert installed["module"].startswith(str(venv)), installed["module"]
    assert installed["version"] == "0.2.0"
    assert installed["license"] == "Apache-2.0"
    assert installed["license_files"] == ["LICENSE"]
    assert len(installed["files"]) == 2  # the licence and the vendored spec are in the wheel
    assert "provider_info" in installed["entry_points"]

    tap_about = json.loads(run(venv, "tap-equipme", "--about", "--format=json", cwd=work))
    assert tap_about["version"] == "0.2.0"
    assert "api_key" in tap_about["settings"]["properties"]
    target_about = json.loads(run(venv, "target-duckdb-lake", "--about", "--format=json", cwd=work))
    assert "path" in target_about["settings"]["properties"]
    assert "--destination" in run(venv, "equipme-sync", "--help", cwd=work)

    (work / "tap.json").write_text(json.dumps({"api_url": sandbox.base_url}))
    summary = json.loads(
        run(
            venv,
            "equipme-sync",
            "--path",
            str(work / "wh.duckdb"),
            "--config",
            str(work / "tap.json"),
            "--json",
            "--progress-interval",
            "0",
            cwd=work,
            env={"TAP_EQUIPME_API_KEY": api_key},
        )
    )
    assert api_key not in json.dumps(summary)
    with duckdb.connect(str(work / "wh.duckdb"), read_only=True) as con:
        landed = con.execute("SELECT count(*) FROM customers").fetchone()
    assert landed == (len(sandbox.control.snapshot()["customers"]),)

    dags = work / "dags"
    dags.mkdir()
    shutil.copy(PROJECT_ROOT / "dags" / "equipme_customers.py", dags)
    imported = json.loads(
        run(
            venv,
            "python",
            "-c",
            IMPORT_DAG,
            str(dags / "equipme_customers.py"),
            cwd=work,
            env={"AIRFLOW_HOME": str(work / "airflow-home")},
        )
    )
    assert imported == {
        "dags": ["equipme_customers_hourly", "equipme_customers_weekly_full_refresh"],
        "tasks": ["extract_load", "publish", "quality_checks", "transform"],
        "pools": ["equipme_warehouse"],
        "hook": "tap_equipme.airflow.hook.EquipmeHook",
        "relabeling": {"host": "API URL", "password": "API key"},
    }
