"""A throwaway Meltano project (a copy of meltano.yml) with both plugins installed, per session."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
