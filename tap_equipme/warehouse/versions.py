"""When a full refresh's ACTIVATE_VERSION may soft-delete: the `activate_version_mode` setting.

Two readings of ACTIVATE_VERSION exist among Singer taps:

- `closing` (the default): the version is complete, and its deletions armed, only when an
  ACTIVATE_VERSION for it arrives after records of that version, or after an earlier
  ACTIVATE_VERSION for it (a full refresh that legitimately returned no rows). tap-equipme and
  the original Singer convention repeat the message after the last record. A tap that dies in
  between still closes the pipe, so the target reaches a clean end of input: applying the
  opening message then would mark every row not read yet as deleted.
- `opening`: singer-sdk taps send ACTIVATE_VERSION once, before a FULL_TABLE stream's records,
  and never after. Here the latest version opened for a stream is armed when the input ends
  cleanly (end of file, not a signal or an error), and its deletions commit with the final
  STATE. The risk: a tap that crashes between two messages also ends the input cleanly.
"""

from __future__ import annotations

from collections import defaultdict

ACTIVATE_VERSION_MODES = ("closing", "opening")
"""Values of the `activate_version_mode` setting; the first is the default."""

SETTING = "activate_version_mode"


class VersionTracker:
    """Per stream: versions seen on records and in ACTIVATE_VERSION, and the armed one."""

    def __init__(self, mode: str = "closing") -> None:
        """Start a run with nothing seen and nothing armed.

        Args:
            mode: `closing` or `opening` (see the module docstring).

        Raises:
            ValueError: For another mode.
        """
        if mode not in ACTIVATE_VERSION_MODES:
            msg = f"Setting '{SETTING}': {mode!r} is not one of {list(ACTIVATE_VERSION_MODES)}."
            raise ValueError(msg)
        self.mode = mode
        self._record_versions: defaultdict[str, set[int]] = defaultdict(set)
        self._activated: defaultdict[str, set[int]] = defaultdict(set)
        self._latest: dict[str, int] = {}
        self._closed: defaultdict[str, set[int]] = defaultdict(set)
        self._armed: dict[str, int] = {}
        self._opened_at_end: dict[str, int] = {}

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
        self._latest[stream] = version
        if complete:
            self._closed[stream].add(version)
            self._armed[stream] = version
        return complete

    def end_of_input(self) -> None:
        """The input ended cleanly: in `opening` mode, arm each stream's latest open version.

        Call only after the last message was read with no error and no signal; the deletions
        it arms are applied in the transaction of the final STATE.
        """
        if self.mode != "opening":
            return
        for stream, version in self._latest.items():
            if version not in self._closed[stream]:
                self._closed[stream].add(version)
                self._armed[stream] = version
                self._opened_at_end[stream] = version

    def armed_by_end_of_input(self, stream: str, version: int) -> bool:
        """Whether the stream's `version` was armed by `end_of_input` (the opening reading).

        Args:
            stream: Stream name.
            version: The armed version.

        Returns:
            True if its deletions rest on the `opening` reading, not on a closing message.
        """
        return self._opened_at_end.get(stream) == version

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

    def unclosed_warning(self, stream: str, version: int) -> str:
        """The end-of-input warning for a version opened but not closed, naming the reading.

        Args:
            stream: Stream name.
            version: The version never closed.

        Returns:
            The message.
        """
        if self.mode == "opening":
            # Only an older version superseded by a newer one in the same input gets here.
            return (
                f"ACTIVATE_VERSION {version} on '{stream}' was replaced by a newer version before "
                "it was closed: no rows marked deleted for it"
            )
        return (
            f"ACTIVATE_VERSION {version} on '{stream}' was never repeated after the stream's "
            "last record, so no rows were marked deleted for it. activate_version_mode is "
            "'closing' (the default): a version counts as complete only when the tap repeats "
            "ACTIVATE_VERSION after its records, as tap-equipme does; without that repeat the "
            "tap may have stopped before the full refresh was complete. Taps built on singer-sdk "
            "never repeat it: for such a tap set activate_version_mode to 'opening' to delete "
            "rows missing from a full refresh whose input ends cleanly (see "
            "docs/singer-peers.md for the risk)."
        )
