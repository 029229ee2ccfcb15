"""The pipeline's errors: one redacted paragraph each, with what landed."""

from __future__ import annotations

from tap_equipme.pipeline.summary import SyncSummary


class SyncError(Exception):
    """A failed run: the message is one redacted paragraph; `summary` tells what landed."""

    def __init__(self, message: str, summary: SyncSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class SyncInterrupted(SyncError):
    """The run was stopped by SIGTERM / SIGINT (forwarded to the tap and the target)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"equipme-sync: stopped by signal {signum}; the state was not advanced.")
        self.signum = signum
