"""When a load folds a DuckDB database's write-ahead log into the file (a checkpoint).

DuckDB's checkpoint rewrites every row group a commit touched, and a table under 122,880 rows
is one row group: checkpointing at every close made an hourly run that changed 10 of 1,000
customers write 3.3 MB, most of the file (benchmark 8). Left in the WAL, the run writes about
9 KB. So a load closes without a checkpoint (`PRAGMA disable_checkpoint_on_shutdown`) and
folds the WAL in only when it has grown past `WAL_SHARE_BEFORE_CHECKPOINT` of the file (a
first load: at once), after a run that created or altered a table, by DuckDB itself past its
`checkpoint_threshold` (16 MiB), or by `equipme-sync maintain`. The same rule holds for a
DuckDB file warehouse and for a lake's local catalog file. A reader replays the WAL when it
opens the file: copy the `.wal` with the file.
"""

from __future__ import annotations

from pathlib import Path

WAL_SHARE_BEFORE_CHECKPOINT = 0.5
"""A database is checkpointed when a load closes only if its WAL passed this share of it."""


def wal_path(database: Path) -> Path:
    """The write-ahead log DuckDB keeps beside a database file (`<file>.wal`)."""
    return database.with_name(database.name + ".wal")


def wal_due(database: Path, *, force: bool = False) -> bool:
    """Whether the WAL beside a database file should be folded into it now.

    Args:
        database: The database file.
        force: Fold any WAL (a run that created or altered a table: DuckDB 1.5.5 failed to
            replay a WAL holding a struct field's ALTER, so schema changes never stay there).

    Returns:
        True if there is a WAL and it is forced or past `WAL_SHARE_BEFORE_CHECKPOINT`.
    """
    try:
        wal = wal_path(database)
        wal_bytes = wal.stat().st_size if wal.exists() else 0
        return bool(wal_bytes) and (
            force or wal_bytes > WAL_SHARE_BEFORE_CHECKPOINT * database.stat().st_size
        )
    except OSError:
        return False
