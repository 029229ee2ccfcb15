"""What erasing an Equipme customer's contact person means: streams, keys, personal fields.

The warehouse side (`warehouse.erasure*`) knows how to blank or delete rows by key in a table
and its history and how to purge a destination's storage; this module knows Equipme's data.

Default (`blank`): a customer is a business; its contact person is the data subject. The
customer's rows (current, soft-deleted, and every `customers_history` version) stay, with the
personal fields set to NULL: the tap's list of personal fields (`tap_equipme.personal_data`,
the same fields the catalog marks and later syncs blank for a suppressed customer): the
contact's name, email and phone (`contactName`, `contactEmail`, `contactPhone`, per the API
spec's descriptions "the contact person at the customer"), the free-text `description`, the
address line that names a person (`companyAddress.line1`, "Attn. ...") and its phone number,
and the names and emails of the account manager and the referring employee (people too).
Fields a run's `personal_data` setting adds beyond the defaults are not known here (the
warehouse does not keep the catalog's marks). The free-text metadata rows
(`customer_metadata` and its history) are deleted: any key may hold anything. The metadata
read log (`customer_metadata_reads`: when and how many keys) holds no personal value and
stays. `delete` removes every row of the customer from every table instead.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import typing as t
import uuid

from tap_equipme.personal_data import default_personal_fields
from tap_equipme.warehouse.erasure import ErasureRequest, TableRule, keys_matching

if t.TYPE_CHECKING:
    import duckdb

CUSTOMERS = "customers"
METADATA = "customer_metadata"
METADATA_READS = "customer_metadata_reads"
EMAIL_FIELD = "contactEmail"


def stream_personal_fields(stream: str) -> tuple[str, ...]:
    """The personal field paths of one stream, from the tap's one list.

    Args:
        stream: The stream.

    Returns:
        Dotted field paths inside the stream's records.
    """
    prefix = f"{stream}."
    return tuple(f.removeprefix(prefix) for f in default_personal_fields() if f.startswith(prefix))


PERSONAL_FIELDS: tuple[str, ...] = stream_personal_fields(CUSTOMERS)
"""The customer fields blanked by an erasure (dotted paths reach into nested objects): the
tap's personal fields (`tap_equipme.personal_data`, derived from the spec), the same fields the
catalog marks `x-personal-data` and the loader blanks for a suppressed customer on every later
sync. One list, so nothing erased here comes back with the next sync."""
MODES = ("blank", "delete")
DIGEST_KEY_ENV = "EQUIPME_ERASURE_KEY"
"""Secret for the keyed digest of an erased email in the erasure log (none logged without)."""


def rules(mode: str = "blank") -> list[TableRule]:
    """The tables an erasure touches and how.

    Args:
        mode: `blank` (personal fields of the customer, metadata rows deleted) or `delete`
            (every row of the customer).

    Returns:
        One rule per stream (each covers its `_history` table too).

    Raises:
        ValueError: For an unknown mode.
    """
    if mode not in MODES:
        msg = f"erase: --mode must be one of {', '.join(MODES)}, not {mode!r}."
        raise ValueError(msg)
    customers: t.Literal["blank", "delete"] = "blank" if mode == "blank" else "delete"
    return [
        TableRule(CUSTOMERS, "id", customers, PERSONAL_FIELDS if mode == "blank" else ()),
        TableRule(METADATA, "customer_id", "delete"),
        TableRule(
            METADATA_READS,
            "customer_id",
            "blank" if mode == "blank" else "delete",
            suppress=False,
        ),
    ]


def email_digest(email: str) -> str | None:
    """HMAC-SHA-256 of a normalised email with the key from `EQUIPME_ERASURE_KEY`, if set.

    A later request for the same address can be recognised in the log; without the key the
    digest cannot be recomputed from a list of addresses.

    Args:
        email: The address.

    Returns:
        The hex digest, or None without a key.
    """
    key = os.environ.get(DIGEST_KEY_ENV)
    if not key:
        return None
    normal = email.strip().lower().encode()
    return hmac.new(key.encode(), normal, hashlib.sha256).hexdigest()


def customer_request(
    customer_ids: list[int],
    email: str | None,
    *,
    mode: str = "blank",
    request_id: str | None = None,
) -> tuple[ErasureRequest, t.Callable[[duckdb.DuckDBPyConnection], list[str]] | None]:
    """Build the request for customers by id and/or by a contact email (history included).

    Args:
        customer_ids: Customer ids.
        email: A contact email: every customer whose `contactEmail` is or was it.
        mode: `blank` or `delete`.
        request_id: The request's id (a ticket number); default a new UUID.

    Returns:
        The request and the key finder for the email (None without one).
    """
    finder = None
    if email:
        address = email

        def finder(con: duckdb.DuckDBPyConnection) -> list[str]:
            return keys_matching(con, CUSTOMERS, "id", EMAIL_FIELD, address)

    request = ErasureRequest(
        request_id=request_id or f"erasure-{uuid.uuid4()}",
        keys=[str(i) for i in customer_ids],
        rules=rules(mode),
        matched_by="email" if email else "customer_id",
        subject_digest=email_digest(email) if email else None,
    )
    return request, finder
