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
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any

from tap_equipme.sandbox.wordlists import (
    COUNTRIES,
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
        return f"{ascii_slug(self.first_name)}.{ascii_slug(self.last_name)}@supplier.example.com"


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


def _company_name(rng: random.Random, country: Country) -> str:
    legal = rng.choice(country.legal_forms)
    pattern = rng.random()
    if country.code in ("JP", "CN"):
        return (
            f"{rng.choice(country.surnames)}{rng.choice(country.cities)}{rng.choice(TRADES)}{legal}"
        )
    if pattern < 0.40:
        return f"{rng.choice(country.surnames)} {rng.choice(TRADES)} {legal}"
    if pattern < 0.60:
        first, second = rng.sample(country.surnames, 2)
        return f"{first} & {second} {rng.choice(TRADES)} {legal}"
    if pattern < 0.85:
        return f"{rng.choice(QUALIFIERS)} {rng.choice(TRADES)} {rng.choice(country.cities)} {legal}"
    return f"{rng.choice(country.surnames)} {rng.choice(TRADES)} {rng.choice(QUALIFIERS)} {legal}"


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
        country_index = rng.randrange(len(COUNTRIES))
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


@cache
def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters and digits of ``text`` (for e-mail local parts)."""
    folded = unicodedata.normalize("NFKD", text.lower().translate(_NO_DECOMPOSITION))
    slug = "".join(ch for ch in folded if ch.isascii() and ch.isalnum())
    return slug or "kontakt"


def _postal_code(rng: random.Random, country: Country) -> str:
    if country.code == "GB":
        return f"SW{rng.randint(1, 20)} {rng.randint(1, 9)}AA"
    if country.code == "PL":
        return f"{rng.randint(10, 99)}-{rng.randint(100, 999)}"
    digits = country.postal_digits
    return str(rng.randrange(10 ** (digits - 1), 10**digits))


def customer_rng(seed: int, customer_id: int) -> random.Random:
    """The RNG that draws one customer's lazily generated fields."""
    return random.Random(seed * 1_000_003 + customer_id)  # noqa: S311 (seeded test data, not crypto)


def customer_details(
    seed: int, core: CustomerCore, referrer: CustomerCore | None
) -> dict[str, Any]:
    """All of a generated customer's other fields, in API shape without ``self`` links.

    Nested references (``accountManager``, ``referredBy.company``) carry ids only; the store
    renders their links and names when it serialises the customer.
    """
    rng = customer_rng(seed, core.id)
    country = COUNTRIES[core.country_index]
    first = rng.choice(country.first_names)
    last = rng.choice(country.surnames)
    contact_name = f"{first} {last}" if country.code not in ("JP", "CN") else f"{last}{first}"
    domain = rng.choice(EMAIL_DOMAINS)
    phone = f"{country.phone_prefix} {rng.randint(100, 999)} {rng.randint(100000, 9999999)}"
    customer: dict[str, Any] = {
        "id": core.id,
        "uuid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "name": core.name,
        "customerNumber": core.customer_number,
        "description": _maybe(rng, rng.choice(DESCRIPTIONS), null_share=0.5),
        "active": core.active,
        "contactName": _maybe(rng, contact_name),
        "contactEmail": _maybe(rng, f"{ascii_slug(first)}.{ascii_slug(last)}@{domain}"),
        "contactPhone": _maybe(rng, phone, null_share=0.3),
    }
    for position, values in enumerate(CUSTOM_ATTRIBUTE_VALUES, start=1):
        customer[f"customAttribute{position}"] = _maybe(rng, rng.choice(values), null_share=0.6)
    if rng.random() < 0.8:
        customer["accountManager"] = rng.choice(EMPLOYEES).id
    if rng.random() < 0.9:
        language = country.language if rng.random() < 0.8 else rng.choice(LANGUAGES)
        customer["language"] = language
    if rng.random() < 0.95:
        customer["companyAddress"] = _address(rng, country, core.id)
    referral = _referral(rng, core, referrer)
    if referral is not None:
        customer["referredBy"] = referral
    return customer


def _address(rng: random.Random, country: Country, customer_id: int) -> dict[str, Any]:
    city = rng.choice(country.cities)
    return {
        "line1": _maybe(rng, f"z. Hd. {rng.choice(country.first_names)}", null_share=0.7),
        "street": _maybe(rng, rng.choice(country.streets), null_share=0.05),
        "number": _maybe(rng, f"{rng.randint(1, 240)}{rng.choice(['', '', 'a', 'b'])}", 0.1),
        "addition": _maybe(rng, "Hinterhaus, 2. OG / 2e étage", null_share=0.9),
        "city": city,
        "postalCode": _maybe(rng, _postal_code(rng, country), null_share=0.05),
        "countryCode": country.code,
        "regionCode": rng.choice(country.regions) if country.regions else None,
        "regionName": None,
        "dependentLocality": None,
        "phoneNumber": _maybe(rng, f"{country.phone_prefix} {rng.randint(10**6, 10**8)}", 0.5),
        "id": 500_000 + customer_id,
    }


def _referral(
    rng: random.Random, core: CustomerCore, referrer: CustomerCore | None
) -> dict[str, Any] | None:
    roll = rng.random()
    if roll < 0.6:
        return None
    referred_on = from_micros(core.created_us - rng.randrange(0, 90 * 86_400) * MICROS)
    referral: dict[str, Any] = {"referredOn": referred_on.isoformat().replace("+00:00", "Z")}
    if roll < 0.8 and referrer is not None:
        referral["company"] = referrer.id
    else:
        referral["employee"] = rng.choice(EMPLOYEES).id
    return referral


def referrer_id_for(seed: int, customer_id: int) -> int | None:
    """The customer that may have referred ``customer_id`` (always an older one)."""
    if customer_id <= 1:
        return None
    return random.Random(seed * 7_919 + customer_id).randrange(1, customer_id)  # noqa: S311 (seeded test data, not crypto)


def customer_metadata(seed: int, customer_id: int) -> list[dict[str, Any]]:
    """0..4 metadata items (key, value, scope) of a generated customer, without links."""
    rng = random.Random(seed * 2_000_029 + customer_id)  # noqa: S311 (seeded test data, not crypto)
    count = rng.choice((0, 0, 1, 1, 2, 3, 4))
    keys = rng.sample(METADATA_KEYS, count)
    items = []
    for key in keys:
        value = rng.choice(METADATA_VALUES)
        items.append(
            {
                "key": key,
                "value": None if rng.random() < 0.05 else value,
                "scope": rng.choice(METADATA_SCOPES),
            }
        )
    return items
