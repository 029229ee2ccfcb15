"""Keep the API key out of every message the tap prints.

The key is never put into a message on purpose, but an API error body may echo the request's
headers back (`errorDescription: "bad key sk-..."`), and that text reaches exceptions and log
lines. `redact` masks it at the error-mapping point; `KeyRedactionFilter`, installed on the
process's log handlers when the tap starts, masks it in any log record that still carries it
(so the standalone `tap-equipme` log is as clean as `equipme-sync`'s, which also redacts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"
_MIN_SECRET_LENGTH = 4
"""Shorter values are not masked (masking "a" would garble every message)."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every occurrence of each secret in `text` with `***`.

    Args:
        text: The message.
        secrets: Values to mask (None and very short values are skipped).

    Returns:
        The redacted text.
    """
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, MASK)
    return text


class KeyRedactionFilter(logging.Filter):
    """A logging filter that masks the key in a record's final message (and traceback)."""

    def __init__(self, secret: str) -> None:
        """Initialize.

        Args:
            secret: The API key.
        """
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the key in the record; always let it through.

        Args:
            record: The log record.

        Returns:
            True.
        """
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = redact(message, [self.secret]), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.secret in record.exc_text:
            record.exc_text = redact(record.exc_text, [self.secret])
        return True


def install(secret: str | None) -> None:
    """Mask `secret` in every log record the process's handlers emit from now on.

    Filters sit on the handlers (a logger's own filter does not see records of child loggers)
    of the root logger and of every logger that has handlers, e.g. the SDK's.

    Args:
        secret: The API key (nothing happens if it is empty or very short).
    """
    if not secret or len(secret) < _MIN_SECRET_LENGTH:
        return
    loggers = [logging.getLogger()] + [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    for each in loggers:
        for handler in each.handlers:
            if not any(
                isinstance(f, KeyRedactionFilter) and f.secret == secret for f in handler.filters
            ):
                handler.addFilter(KeyRedactionFilter(secret))
