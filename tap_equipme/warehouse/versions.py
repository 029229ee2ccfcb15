"""When a full refresh's ACTIVATE_VERSION may soft-delete: only once its version is complete.

singer-sdk taps send ACTIVATE_VERSION before a stream's first record; this project's tap (and
the Singer convention) sends it again after the last one. A tap that dies in between still
closes the pipe, so the target reaches end of input: applying the opening message then would
mark every row not read yet as deleted. A version is therefore complete, and its deletions
armed, only when an ACTIVATE_VERSION for it arrives after records of that version, or after
an earlier ACTIVATE_VERSION for it (a full refresh that legitimately returned no rows).
"""

from __future__ import annotations

from collections import defaultdict


class VersionTracker:
    """Per stream: versions seen on records and in ACTIVATE_VERSION, and the armed one."""

    def __init__(self) -> None:
        """Start a run with nothing seen and nothing armed."""
        self._record_versions: defaultdict[str, set[int]] = defaultdict(set)
        self._activated: defaultdict[str, set[int]] = defaultdict(set)
        self._closed: defaultdict[str, set[int]] = defaultdict(set)
        self._armed: dict[str, int] = {}

    def observe_records(self, stream: str, version: int | None) -> None:
        """Note that records carrying `version` were loaded for the stream.

        Args:
            stream: Stream name.
            version: The records' own `version` (None: not part of a full refresh).
        """
        if version is not None:
            self._record_versions[stream].add(version)

    def activate(self, stream: str, version: int) -> bool:
        """Take an ACTIVATE_VERSION; arm its deletions if it closes a version.

        Args:
            stream: Stream name.
            version: The activated table version.

        Returns:
            True if the version is now known complete (its soft deletes are armed).
        """
        complete = version in self._record_versions[stream] or version in self._activated[stream]
        self._activated[stream].add(version)
        if complete:
            self._closed[stream].add(version)
            self._armed[stream] = version
        return complete

    def take_armed(self, stream: str) -> int | None:
        """Return (and forget) the stream's complete version whose deletions are due.

        Args:
            stream: Stream name.

        Returns:
            The version, or None if no complete version was activated.
        """
        return self._armed.pop(stream, None)

    def unclosed(self, stream: str) -> list[int]:
        """Versions activated for the stream but never closed (reported at end of input).

        Args:
            stream: Stream name.

        Returns:
            The versions, sorted.
        """
        return sorted(self._activated[stream] - self._closed[stream])
