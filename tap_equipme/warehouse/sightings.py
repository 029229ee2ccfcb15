"""Sightings: the unchanged rows a full refresh's version saw, kept off the stream tables.

A full refresh (ACTIVATE_VERSION) must tell the rows it saw from the rows it did not, to
soft-delete the latter. Writing the version into every row seen (`_sdc_table_version`) did
that, but on a lake an UPDATE is a delete file plus a new copy of each whole row: every
hourly change-capture run rewrote the whole table for a few changed rows. Here the keys of
unchanged rows seen in a version live in a temp table of the writer's connection:

- a version's soft deletes spare the rows sighted in it (`absent_condition`);
- a source can continue a version in a later process only if it remembers the version, and
  a Singer tap remembers only through its STATE: at a STATE commit, the sightings of a
  version still open whose number the STATE carries are written to `_sdc_table_version`
  (`stamp`), so the continuing process sees them; the others stay in memory and are dropped
  once the version's deletes are applied (`forget`).

So `_sdc_table_version` is the version in which the row was last written (inserted,
changed, undeleted), or last seen by a version that a STATE said could be continued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tap_equipme.warehouse.json_schema import quote

if TYPE_CHECKING:
    import duckdb


def temp_table(purpose: str, stream: str) -> str:
    """Return the name of one of a stream's temp tables of this load.

    Args:
        purpose: `sighted` (its unchanged rows seen in a version) or `seen` (the keys its
            records carried this run, see `change_tracking`).
        stream: Stream name.

    Returns:
        A temp table name.
    """
    return f"__equipme_{purpose}_{stream}"


def sighted_table(stream: str) -> str:
    """The temp table of a stream's unchanged rows seen in a version (see `temp_table`)."""
    return temp_table("sighted", stream)


def state_integers(value: Any) -> set[int]:
    """Every integer in a JSON value (a STATE), however deep: the versions it may continue.

    Args:
        value: The value.

    Returns:
        The integers (booleans excluded).
    """
    if isinstance(value, bool):
        return set()
    if isinstance(value, int):
        return {value}
    if isinstance(value, dict):
        return set().union(*(state_integers(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(state_integers(v) for v in value))
    return set()


class Sightings:
    """The sightings of one writer connection (its open transaction is used)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        """Start with none.

        Args:
            con: The writer's connection.
        """
        self.con = con
        self._sighted: dict[str, tuple[list[str], set[int]]] = {}
        """Per stream: its keys and the versions with sightings not written to the table."""

    def note(
        self, stream: str, keys: list[str], types: dict[str, Any], version: int, delta: str
    ) -> None:
        """Remember the batch's unchanged rows whose stored version is not `version`.

        Args:
            stream: Stream name.
            keys: Key properties.
            types: The stream table's column types.
            version: The batch's version.
            delta: The merge's delta relation (keys, `change`, `version_moved`).
        """
        table = quote(sighted_table(stream))
        if stream not in self._sighted:
            defs = ", ".join(f"{quote(k)} {types[k]}" for k in keys)
            pk = ", ".join(quote(k) for k in [*keys, "_sdc_table_version"])
            self.con.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {table} ({defs}, _sdc_table_version BIGINT, "
                f"PRIMARY KEY ({pk}))"
            )
            self._sighted[stream] = (list(keys), set())
        self._sighted[stream][1].add(version)
        key_cols = ", ".join(f"d.{quote(k)}" for k in keys)
        self.con.execute(
            f"INSERT OR IGNORE INTO {table} SELECT {key_cols}, ?::BIGINT FROM {delta} d "
            "WHERE d.change = 'same' AND d.version_moved",
            [version],
        )

    def pending(self) -> dict[str, list[int]]:
        """The versions, per stream, with sightings not written to the stream table.

        Returns:
            Stream -> versions (sorted).
        """
        return {s: sorted(v) for s, (_, v) in self._sighted.items() if v}

    def absent_condition(self, stream: str, version: int) -> tuple[str, list[Any]]:
        """The SQL condition (alias `t`) of a live row absent from a complete `version`.

        Args:
            stream: Stream name.
            version: The complete version.

        Returns:
            `(where, params)`: written in another version and not sighted in this one.
        """
        where = "t._sdc_table_version IS DISTINCT FROM ?::BIGINT"
        params: list[Any] = [version]
        if version in self._sighted.get(stream, ((), set()))[1]:
            keys = self._sighted[stream][0]
            sj = " AND ".join(f"s.{quote(k)} = t.{quote(k)}" for k in keys)
            where += (
                f" AND NOT EXISTS (SELECT 1 FROM {quote(sighted_table(stream))} s "
                f"WHERE {sj} AND s._sdc_table_version = ?::BIGINT)"
            )
            params.append(version)
        return where, params

    def stamp(self, stream: str, version: int) -> int:
        """Write a version's sightings to `_sdc_table_version` (a later process may need them).

        Args:
            stream: Stream name.
            version: The version.

        Returns:
            The rows whose `_sdc_table_version` changed.
        """
        keys, versions = self._sighted.get(stream, ([], set()))
        if version not in versions:
            return 0
        sighted = quote(sighted_table(stream))
        sj = " AND ".join(f"s.{quote(k)} = t.{quote(k)}" for k in keys)
        count = self.con.execute(
            f"SELECT count(*) FROM {quote(stream)} t JOIN {sighted} s ON {sj} "
            "WHERE s._sdc_table_version = ?::BIGINT AND t._sdc_table_version IS DISTINCT FROM "
            "?::BIGINT",
            [version, version],
        ).fetchone()
        stamped = int(count[0]) if count else 0
        if stamped:
            self.con.execute(
                f"UPDATE {quote(stream)} t SET _sdc_table_version = ?::BIGINT FROM {sighted} s "
                f"WHERE {sj} AND s._sdc_table_version = ?::BIGINT AND t._sdc_table_version IS "
                "DISTINCT FROM ?::BIGINT",
                [version, version, version],
            )
        self.forget(stream, version)
        return stamped

    def forget(self, stream: str, version: int) -> None:
        """Drop a version's sightings (its deletes were applied, or they were written).

        Args:
            stream: Stream name.
            version: The version.
        """
        versions = self._sighted.get(stream, ([], set()))[1]
        if version in versions:
            self.con.execute(
                f"DELETE FROM {quote(sighted_table(stream))} WHERE _sdc_table_version = ?",
                [version],
            )
            versions.discard(version)
