"""A DuckDB connection that remembers the open transaction's statements, to replay them.

DuckLake commits optimistically: when another writer changed the same table since this
transaction began, COMMIT fails with a conflict and everything is rolled back. The writer
then replays the recorded statements (with the Arrow batches they staged, kept until the
commit) on the new snapshot; upserts delete-then-insert by key, so a replay converges.
"""

from __future__ import annotations

from typing import Any

import duckdb


class JournaledConnection:
    """Forwards to a DuckDB connection; records `execute` / `register` / `unregister` calls.

    The record is kept from the last `clear()` (the writer clears it after each commit).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        """Wrap a connection.

        Args:
            con: The connection.
        """
        self._con = con
        self.recording = False
        self._calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, query: str, parameters: Any = None) -> duckdb.DuckDBPyConnection:
        """Run a statement (recorded while recording, except BEGIN / COMMIT).

        Args:
            query: SQL.
            parameters: Its parameters.

        Returns:
            The connection (for `fetchall()` and friends).
        """
        result = self._con.execute(query, parameters)
        if self.recording:
            self._calls.append(("execute", (query, parameters)))
        return result

    def register(self, name: str, python_object: Any) -> duckdb.DuckDBPyConnection:
        """Register a Python object (an Arrow batch) as a view (recorded).

        Args:
            name: The view's name.
            python_object: The object.

        Returns:
            The connection.
        """
        result = self._con.register(name, python_object)
        if self.recording:
            self._calls.append(("register", (name, python_object)))
        return result

    def unregister(self, name: str) -> duckdb.DuckDBPyConnection:
        """Unregister a view (recorded).

        Args:
            name: The view's name.

        Returns:
            The connection.
        """
        result = self._con.unregister(name)
        if self.recording:
            self._calls.append(("unregister", (name,)))
        return result

    def clear(self) -> None:
        """Forget the recorded calls (after a commit or a rollback)."""
        self._calls = []

    def replay(self) -> None:
        """Run the recorded calls again, in order, on the underlying connection."""
        for method, args in self._calls:
            if method == "unregister":
                try:
                    self._con.unregister(*args)
                except duckdb.Error:
                    continue
            else:
                getattr(self._con, method)(*args)
