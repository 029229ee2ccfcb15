"""Word lists behind the sandbox's generated data: countries, people, companies.

The words are data, in `wordlists.json` beside this module; this module gives them types.
Non-ASCII text is deliberate: the pipeline must carry it unchanged.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, NamedTuple


class Country(NamedTuple):
    """What the generator needs to write a plausible address and contact in one country."""

    code: str
    language: str
    cities: tuple[str, ...]
    streets: tuple[str, ...]
    surnames: tuple[str, ...]
    first_names: tuple[str, ...]
    legal_forms: tuple[str, ...]
    phone_prefix: str
    postal_digits: int
    regions: tuple[str, ...] = ()


def _tuples(value: Any) -> Any:
    """JSON arrays back to the tuples the generator indexes (immutable, hashable)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


_WORDS: dict[str, Any] = json.loads(
    resources.files("tap_equipme.sandbox").joinpath("wordlists.json").read_text("utf-8")
)

COUNTRIES: tuple[Country, ...] = tuple(
    Country(**{k: _tuples(v) for k, v in country.items()}) for country in _WORDS["countries"]
)
# Share (percent) of customers per country, in COUNTRIES order: a European equipment
# supplier's book is mostly German-speaking, with a long tail (CJK text included).
COUNTRY_WEIGHTS: tuple[int, ...] = _tuples(_WORDS["country_weights"])
ATTENTION: dict[str, str] = _WORDS["attention"]
# Trade words that make company names look like a supplier's customer list (construction,
# events, facility management: the businesses that rent equipment).
TRADES: tuple[str, ...] = _tuples(_WORDS["trades"])
QUALIFIERS: tuple[str, ...] = _tuples(_WORDS["qualifiers"])
DESCRIPTIONS: tuple[str, ...] = _tuples(_WORDS["descriptions"])
CUSTOM_ATTRIBUTE_VALUES: tuple[tuple[str, ...], ...] = _tuples(_WORDS["custom_attribute_values"])
METADATA_KEYS: tuple[str, ...] = _tuples(_WORDS["metadata_keys"])
METADATA_VALUES: tuple[str, ...] = _tuples(_WORDS["metadata_values"])
EMAIL_DOMAINS: tuple[str, ...] = _tuples(_WORDS["email_domains"])
