"""Deterministic, realistic customer data from a seed (word lists + ``random.Random``).

Generation is split in two so that 100,000 customers are ready in well under a second:

- ``generate_cores`` draws, eagerly and with one seeded RNG, only what filtering and sorting
  need (name, customer number, active flag, country, creation time);
- ``customer_details`` and ``customer_metadata`` draw the rest lazily, from an RNG seeded by
  (seed, id), so a customer looks the same whenever and in whatever order it is first served.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any, TypeVar

from tap_equipme.sandbox.wordlists import (
    ATTENTION,
    COUNTRIES,
    COUNTRY_WEIGHTS,
    CUSTOM_ATTRIBUTE_VALUES,
    DESCRIPTIONS,
    EMAIL_DOMAINS,
    METADATA_KEYS,
    METADATA_VALUES,
    QUALIFIERS,
    TRADES,
    Country,
)

# Generated customers were created in this window, long before any test runs.
CREATED_FROM = datetime(2019, 1, 1, tzinfo=timezone.utc)
CREATED_UNTIL = datetime(2025, 12, 31, tzinfo=timezone.utc)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROS = 1_000_000

LANGUAGES = ("en", "de", "fr", "it", "pl", "nb", "nl", "es")
METADATA_SCOPES = ("Customer", "Supplier")


@dataclass(frozen=True)
class Employee:
    """An employee of the supplier: account manager, referrer, tenant-permission target."""

    id: int
    first_name: str
    last_name: str
    cost_center: str | None
    cost_center_id: int | None

    @property
    def email(self) -> str:
        """The employee's login address (also the username)."""
        return f"{_mailbox(self.first_name, self.last_name)}@supplier.example.com"


# A fixed staff: tenantPermissions with any other employee id is rejected.
EMPLOYEES: tuple[Employee, ...] = (
    Employee(101, "Anna", "Müller", "Vertrieb Süd", 11),
    Employee(102, "Jonas", "Weiß", "Vertrieb Nord", 12),
    Employee(103, "Claire", "Lefèvre", "Ventes France", 21),
    Employee(104, "Łukasz", "Wiśniewski", "Sprzedaż", 31),
    Employee(105, "Ingrid", "Økland", None, None),
    Employee(106, "Lucía", "Núñez", "Ventas", 41),
    Employee(107, "Tom", "Baker", "Key Accounts", 51),
    Employee(108, "Sophie", "de Vries", None, None),
)
EMPLOYEES_BY_ID: dict[int, Employee] = {employee.id: employee for employee in EMPLOYEES}


@dataclass
class CustomerCore:
    """The fields every list request filters or sorts on, kept for every customer."""

    id: int
    name: str
    customer_number: str | None
    active: bool
    country_index: int
    created_us: int


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch (exact integer arithmetic, no float rounding)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def from_micros(micros: int) -> datetime:
    """Inverse of ``to_micros`` (UTC)."""
    return datetime.fromtimestamp(micros // MICROS, tz=timezone.utc).replace(
        microsecond=micros % MICROS
    )


T = TypeVar("T")


def _pick(rng: random.Random, options: Sequence[T]) -> T:
    # random.choice costs ~1 us; this one draw costs ~0.1 us and matters at 100k customers.
    return options[int(rng.random() * len(options))]


def _between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high] (both included), one fast draw."""
    return low + int(rng.random() * (high - low + 1))


# One entry per percent point: a uniform pick from it is a weighted pick of a country.
_COUNTRY_DRAW: tuple[int, ...] = tuple(
    index for index, weight in enumerate(COUNTRY_WEIGHTS) for _ in range(weight)
)


def _company_name(rng: random.Random, country: Country) -> str:
    legal = _pick(rng, country.legal_forms)
    pattern = rng.random()
    if country.code in ("JP", "CN"):
        return (
            f"{_pick(rng, country.surnames)}{_pick(rng, country.cities)}{_pick(rng, TRADES)}{legal}"
        )
    if pattern < 0.40:
        return f"{_pick(rng, country.surnames)} {_pick(rng, TRADES)} {legal}"
    if pattern < 0.60:
        first, second = rng.sample(country.surnames, 2)
        return f"{first} & {second} {_pick(rng, TRADES)} {legal}"
    if pattern < 0.85:
        return f"{_pick(rng, QUALIFIERS)} {_pick(rng, TRADES)} {_pick(rng, country.cities)} {legal}"
    return f"{_pick(rng, country.surnames)} {_pick(rng, TRADES)} {_pick(rng, QUALIFIERS)} {legal}"


def generate_cores(count: int, seed: int) -> list[CustomerCore]:
    """Draw ``count`` customers' core fields; ids 1..count, creation times increasing with id.

    Names are realistic and mostly unique (a clash is redrawn a few times, then kept: the API
    does not guarantee unique names either).
    """
    rng = random.Random(seed)  # noqa: S311 (seeded test data, not crypto)
    start, end = to_micros(CREATED_FROM), to_micros(CREATED_UNTIL)
    created = sorted(rng.randrange(start, end) for _ in range(count))
    used: set[str] = set()
    cores: list[CustomerCore] = []
    for index in range(count):
        customer_id = index + 1
        country_index = _pick(rng, _COUNTRY_DRAW)
        country = COUNTRIES[country_index]
        name = _company_name(rng, country)
        for _ in range(3):
            if name not in used:
                break
            name = _company_name(rng, country)
        used.add(name)
        roll = rng.random()
        number: str | None
        if roll < 0.10:
            number = None
        elif roll < 0.11:
            number = ""
        else:
            number = f"K-{customer_id:06d}"
        cores.append(
            CustomerCore(
                id=customer_id,
                name=name,
                customer_number=number,
                active=rng.random() < 0.85,
                country_index=country_index,
                created_us=created[index],
            )
        )
    return cores


def _maybe(rng: random.Random, value: str, null_share: float = 0.15) -> str | None:
    """``value``, or occasionally null, or (rarely) an empty string, as real data has."""
    roll = rng.random()
    if roll < null_share:
        return None
    if roll < null_share + 0.02:
        return ""
    return value


_NO_DECOMPOSITION = str.maketrans({"ł": "l", "ø": "o", "ß": "ss", "æ": "ae", "đ": "d"})


def _mailbox(first: str, last: str) -> str:
    """``first.last`` in ASCII, or ``info`` when the name has no Latin letters (CJK)."""
    first_slug, last_slug = ascii_slug(first), ascii_slug(last)
    return f"{first_slug}.{last_slug}" if first_slug and last_slug else "info"


@cache
def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (for e-mail local parts)."""
    folded = unicodedata.normalize("NFKD", text.lower().translate(_NO_DECOMPOSITION))
    return "".join(ch for ch in folded if ch.isascii() and ch.isalnum())


def _postal_code(rng: random.Random, country: Country) -> str:
    if country.code == "GB":
        return f"SW{_between(rng, 1, 20)} {_between(rng, 1, 9)}AA"
    if country.code == "PL":
        return f"{_between(rng, 10, 99)}-{_between(rng, 100, 999)}"
    digits = country.postal_digits
    return str(_between(rng, 10 ** (digits - 1), 10**digits - 1))


def customer_rng(seed: int, customer_id: int) -> random.Random:
    """The RNG that draws one customer's lazily generated fields."""
    return random.Random(seed * 1_000_003 + customer_id)  # noqa: S311 (seeded test data, not crypto)


def customer_details(
    seed: int, core: CustomerCore, core_of: Callable[[int], CustomerCore | None]
) -> dict[str, Any]:
    """All of a generated customer's other fields, in API shape without ``self`` links.

    Nested references (``accountManager``, ``referredBy.company``) carry ids only; the store
    renders their links and names when it serialises the customer.
    """
    rng = customer_rng(seed, core.id)
    country = COUNTRIES[core.country_index]
    first = _pick(rng, country.first_names)
    last = _pick(rng, country.surnames)
    contact_name = f"{first} {last}" if country.code not in ("JP", "CN") else f"{last}{first}"
    domain = _pick(rng, EMAIL_DOMAINS)
    phone = f"{country.phone_prefix} {_between(rng, 100, 999)} {_between(rng, 100000, 9999999)}"
    customer: dict[str, Any] = {
        "id": core.id,
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": core.name,
        "customerNumber": core.customer_number,
        "description": _maybe(rng, _pick(rng, DESCRIPTIONS), null_share=0.5),
        "active": core.active,
        "contactName": _maybe(rng, contact_name),
        "contactEmail": _maybe(rng, f"{_mailbox(first, last)}@{domain}"),
        "contactPhone": _maybe(rng, phone, null_share=0.3),
    }
    for position, values in enumerate(CUSTOM_ATTRIBUTE_VALUES, start=1):
        customer[f"customAttribute{position}"] = _maybe(rng, _pick(rng, values), null_share=0.6)
    if rng.random() < 0.8:
        customer["accountManager"] = _pick(rng, EMPLOYEES).id
    if rng.random() < 0.9:
        language = country.language if rng.random() < 0.8 else _pick(rng, LANGUAGES)
        customer["language"] = language
    if rng.random() < 0.95:
        customer["companyAddress"] = _address(rng, country, core.id)
    # The referring company is always an older customer (it may since have been deleted).
    referrer = core_of(_between(rng, 1, core.id - 1)) if core.id > 1 else None
    referral = _referral(rng, core, referrer)
    if referral is not None:
        customer["referredBy"] = referral
    return customer


def _address(rng: random.Random, country: Country, customer_id: int) -> dict[str, Any]:
    attention = ATTENTION.get(country.language, "Attn.")
    city = _pick(rng, country.cities)
    return {
        "line1": _maybe(rng, f"{attention} {_pick(rng, country.first_names)}", null_share=0.7),
        "street": _maybe(rng, _pick(rng, country.streets), null_share=0.05),
        "number": _maybe(rng, f"{_between(rng, 1, 240)}{_pick(rng, ['', '', 'a', 'b'])}", 0.1),
        "addition": _maybe(rng, "Hinterhaus, 2. OG / 2e étage", null_share=0.9),
        "city": city,
        "postalCode": _maybe(rng, _postal_code(rng, country), null_share=0.05),
        "countryCode": country.code,
        "regionCode": _pick(rng, country.regions) if country.regions else None,
        "regionName": None,
        "dependentLocality": None,
        "phoneNumber": _maybe(rng, f"{country.phone_prefix} {_between(rng, 10**6, 10**8)}", 0.5),
        "id": 500_000 + customer_id,
    }


def _referral(
    rng: random.Random, core: CustomerCore, referrer: CustomerCore | None
) -> dict[str, Any] | None:
    roll = rng.random()
    if roll < 0.6:
        return None
    referred_on = from_micros(core.created_us - _between(rng, 0, 90 * 86_400) * MICROS)
    referral: dict[str, Any] = {"referredOn": referred_on.isoformat().replace("+00:00", "Z")}
    if roll < 0.8 and referrer is not None:
        referral["company"] = referrer.id
    else:
        referral["employee"] = _pick(rng, EMPLOYEES).id
    return referral


def customer_metadata(seed: int, customer_id: int) -> list[dict[str, Any]]:
    """0..4 metadata items (key, value, scope) of a generated customer, without links."""
    rng = random.Random(seed * 2_000_029 + customer_id)  # noqa: S311 (seeded test data, not crypto)
    count = _pick(rng, (0, 0, 1, 1, 2, 3, 4))
    keys = rng.sample(METADATA_KEYS, count)
    items = []
    for key in keys:
        value = _pick(rng, METADATA_VALUES)
        items.append(
            {
                "key": key,
                "value": None if rng.random() < 0.05 else value,
                "scope": _pick(rng, METADATA_SCOPES),
            }
        )
    return items
