"""Fixtures for the DAG tests: one migrated Airflow home per test session (per xdist worker).

Test modules cannot import this file under `--import-mode=importlib`: they get the
`AirflowEnv` through the `airflow` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DAGS_FOLDER = PROJECT_ROOT / "dags"
AIRFLOW = str(Path(sys.executable).parent / "airflow")


class AirflowEnv:
    """Runs `airflow` commands against one temp AIRFLOW_HOME."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "PYTHONWARNINGS": "ignore",
            # A failing task must fail the test now, not after minutes of retry delays.
            "EQUIPME_DAG_RETRIES": "0",
            # dbt (about 25 s a run) only where a test asks for it (conf {"transform": true}).
            "EQUIPME_TRANSFORM": "0",
        }
        self.env.pop("EQUIPME_WAREHOUSE_PATH", None)

    def run(
        self,
        *args: str,
        extra_env: dict[str, str] | None = None,
        timeout: float = 300,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run `airflow ARGS...`; raise with its output if it fails."""
        proc = subprocess.run(
            [AIRFLOW, *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"airflow {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
            )
        return proc

    def setup(self) -> None:
        """Migrate the metadata DB and create the warehouse pool."""
        self.run("db", "migrate")
        self.run("pools", "set", "equipme_warehouse", "1", "One writer at a time on the warehouse")

    def dags_test(
        self, dag_id: str, conn: dict[str, Any], conf: dict[str, Any] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a whole DAG in-process with `airflow dags test`, the connection given by env."""
        args = ["dags", "test", dag_id]
        if conf:
            args += ["-c", json.dumps(conf)]
        return self.run(*args, extra_env={"AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(conn)})


@pytest.fixture(scope="session")
def airflow_unmigrated(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    """An Airflow home with no metadata DB: enough to parse the DAG files."""
    return AirflowEnv(tmp_path_factory.mktemp("airflow-parse-home"))


@pytest.fixture(scope="session")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    """A migrated Airflow home with the `equipme_warehouse` pool (a few seconds, once)."""
    env = AirflowEnv(tmp_path_factory.mktemp("airflow-home"))
    env.setup()
    return env
