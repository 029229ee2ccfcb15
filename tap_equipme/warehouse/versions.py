"""When a full refresh's ACTIVATE_VERSION may soft-delete: the `activate_version_mode` setting.

Two readings of ACTIVATE_VERSION exist among Singer taps:

- `closing` (the default): the version is complete, and its deletions armed, only when an
  ACTIVATE_VERSION for it arrives after records of that version, or after an earlier
  ACTIVATE_VERSION for it (a full refresh that legitimately returned no rows). tap-equipme and
  the original Singer convention repeat the message after the last record. A tap that dies in
  between still closes the pipe, so the target reaches a clean end of input: applying the
  opening message then would mark every row not read yet as deleted.
- `opening`: singer-sdk taps send ACTIVATE_VERSION once, before a FULL_TABLE stream's records,
  and never after. Here the latest version opened for a stream is also armed when the input
  ends cleanly (end of file, not a signal or an error) and a STATE arrived after the opening
  message and after the stream's last record (singer-sdk writes one at the end of each
  stream; a tap that dies mid-stream leaves records after its last STATE). Its deletions
  commit with the final STATE. The risk left: a tap that dies just after a STATE written in
  the middle of a stream (singer-sdk writes one every 10,000 records) ends the input cleanly
  too, and the rows it had not sent yet are marked deleted until its next full refresh.
"""

from __future__ import annotations

import typing as t
from collections import defaultdict

from tap_equipme.warehouse.load_errors import WarehouseError

ACTIVATE_VERSION_MODES = ("closing", "opening")
"""Values of the `activate_version_mode` setting; the first is the default."""

SETTING = "activate_version_mode"


def activate_version_mode(config: t.Mapping[str, t.Any]) -> str:
    """Read the `activate_version_mode` setting.

    Args:
        config: The target's settings.

    Returns:
        `closing` (the default) or `opening`.

    Raises:
        WarehouseError: For another value.
    """
    mode = config.get(SETTING) or ACTIVATE_VERSION_MODES[0]
    if mode not in ACTIVATE_VERSION_MODES:
        msg = (
            f"Setting '{SETTING}': {mode!r} is not one of {list(ACTIVATE_VERSION_MODES)} "
            "(see docs/singer-peers.md)."
        )
        raise WarehouseError(msg)
    return str(mode)


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
        self._state_after_activate: dict[str, bool] = {}
        self._rows_at_state: dict[str, int] = {}
        self._held: dict[str, int] = {}

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
        self._state_after_activate[stream] = False
        if complete:
            self._closed[stream].add(version)
            self._armed[stream] = version
        return complete

    def observe_state(self, stream: str, rows_received: int) -> None:
        """Note a STATE message and how many records of the stream had arrived before it.

        Args:
            stream: Stream name.
            rows_received: The stream's records received so far.
        """
        self._state_after_activate[stream] = True
        self._rows_at_state[stream] = rows_received

    def end_of_input(self, rows_received: dict[str, int]) -> None:
        """The input ended cleanly: in `opening` mode, arm each stream's latest open version.

        Only a version followed by a STATE with no record of the stream after that STATE is
        armed; the others are held back (see `held`). Call only after the last message was
        read with no error and no signal; the deletions it arms are applied in the
        transaction of the final STATE.

        Args:
            rows_received: Per stream, the records received in the whole input.
        """
        if self.mode != "opening":
            return
        for stream, version in self._latest.items():
            if version in self._closed[stream]:
                continue
            settled = self._state_after_activate.get(stream, False) and self._rows_at_state.get(
                stream
            ) == rows_received.get(stream, 0)
            if not settled:
                self._held[stream] = version
                continue
            self._closed[stream].add(version)
            self._armed[stream] = version
            self._opened_at_end[stream] = version

    def is_closed(self, stream: str, version: int) -> bool:
        """Whether the stream's `version` is complete in this input (closed or armed).

        Args:
            stream: Stream name.
            version: The version.

        Returns:
            True once the version was closed.
        """
        return version in self._closed[stream]

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
        if self.mode == "opening" and self._held.get(stream) == version:
            return (
                f"ACTIVATE_VERSION {version} on '{stream}' was neither repeated after the "
                "stream's records nor followed by a STATE after its last record, so no rows "
                "were marked deleted for it. activate_version_mode is 'opening', which takes "
                "a clean end of input as the end of the full refresh only when the tap "
                "confirmed the stream with a STATE; here the tap seems to have stopped in "
                "the middle of the stream."
            )
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
