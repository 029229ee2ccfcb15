"""Test-only kill points for `equipme-sync maintain` on a lake, switched on by the environment.

The killed-maintenance test puts this folder on PYTHONPATH. Only when
`EQUIPME_TEST_MAINTAIN_KILL_AT` is set does it wrap one step of `warehouse.maintenance` so the
process SIGKILLs itself there (like `kill -9` of the worker running the weekly maintenance):

- `after-compact`: files merged and rewritten (committed), no snapshot expired yet;
- `mid-compact`: adjacent files merged (committed), the mostly-deleted files not yet
  rewritten;
- `before-cleanup`: snapshots expired (committed), the files they freed not yet deleted.

The production code has no trace of it.
"""

from __future__ import annotations

import os
import signal
from typing import Any

_POINT = os.environ.get("EQUIPME_TEST_MAINTAIN_KILL_AT")


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if _POINT:
    from tap_equipme.warehouse import maintenance

    _real_compact = maintenance._compact
    _real_step = maintenance.Step

    if _POINT == "after-compact":

        def _compact_then_kill(con: Any, step: Any) -> None:
            _real_compact(con, step)
            _kill()

        maintenance._compact = _compact_then_kill  # type: ignore[assignment]
    elif _POINT == "mid-compact":

        class _KilledAtRewrite:
            """The connection, but `ducklake_rewrite_data_files` kills the process."""

            def __init__(self, con: Any) -> None:
                self._con = con

            def execute(self, sql: str, *args: Any) -> Any:
                if "ducklake_rewrite_data_files" in sql:
                    _kill()
                return self._con.execute(sql, *args)

        def _compact_killed(con: Any, step: Any) -> None:
            _real_compact(_KilledAtRewrite(con), step)

        maintenance._compact = _compact_killed  # type: ignore[assignment]
    elif _POINT == "before-cleanup":

        def _step(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == "cleanup":
                _kill()
            return _real_step(name, *args, **kwargs)

        maintenance.Step = _step  # type: ignore[assignment,misc]
