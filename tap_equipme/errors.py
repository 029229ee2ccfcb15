"""The tap's errors: each one a clear paragraph a user can act on, never carrying the key."""

from __future__ import annotations

import msgspec

from tap_equipme.http.redaction import redact


class EquipmeError(RuntimeError):
    """A failure the tap reports as one paragraph and a non-zero exit (no traceback)."""


class EquipmeAuthError(EquipmeError):
    """The API refused the API key (401)."""


class EquipmeAccessError(EquipmeError):
    """The API denied access to a resource (403) or does not know it (404)."""


class EquipmeRequestError(EquipmeError):
    """The API rejected a request (400 and other 4xx)."""


class EquipmeRetriesExhausted(EquipmeError):
    """Server errors, timeouts or bad bodies persisted through every retry."""


class EquipmeConfigError(EquipmeError):
    """A setting has a bad value."""


def _error_fields(content: bytes) -> str:
    try:
        body = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return "no error details in the response"
    if not isinstance(body, dict):
        return "no error details in the response"
    code = body.get("errorCode")
    description = body.get("errorDescription")
    return f"errorCode={code!r}, errorDescription={description!r}"


def client_error(path: str, status: int, content: bytes, *, secret: str = "") -> EquipmeError:
    """The error for a 4xx answer that is not retried, naming the setting to check.

    Args:
        path: The request path (no query, no key).
        status: The HTTP status.
        content: The response body (the API's ErrorResponse, if any).
        secret: The API key: masked wherever the body echoes it.

    Returns:
        The exception to raise.
    """
    fields = redact(_error_fields(content), [secret])
    if status == 401:
        msg = (
            f"The Equipme API refused the API key (HTTP 401 on GET {path}): check the "
            "`api_key` setting (or TAP_EQUIPME_API_KEY); the key must be a valid, active key "
            "of this tenant."
        )
        return EquipmeAuthError(msg)
    if status == 403:
        msg = (
            f"The Equipme API denied access (HTTP 403 on GET {path}; {fields}): "
            "the API key in `api_key` lacks permission for this resource."
        )
        return EquipmeAccessError(msg)
    if status == 404:
        msg = (
            f"The Equipme API has no resource at GET {path} (HTTP 404; "
            f"{fields}): check the `api_url` setting."
        )
        return EquipmeAccessError(msg)
    msg = (
        f"The Equipme API rejected GET {path} (HTTP {status}; {fields}). "
        "Check the filter settings (`active`, `customer_numbers`, `names`, `start_date`, "
        "`page_size`)."
    )
    return EquipmeRequestError(msg)
