"""The personal-data policy on a field the spec does not declare, sent on some records only.

A real API grows: a `contactMobile` appears on a few customers, as a number. A user who names
it in `personal_data` expects it hashed (or dropped) wherever it appears, the warehouse to
take the hash although the value was a number, and the loader to know the column is personal
(the suppression list blanks exactly the fields the tap marks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tap_equipme.pipeline.sync import SyncError, run_sync
from tap_equipme.warehouse.suppression import Suppression, add_suppressions

KEY = "pii-key-sparse-5d1c-DO-NOT-LEAK"
MOBILE = 4915112345678
SENT_TO = [3, 7, 11]
SUPPRESSED = 7


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)  # a non-string value is hashed as its JSON
    return hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("policy", ["hash", "drop"])
def test_a_sparse_field_beyond_the_spec_lands_as_the_policy_says_and_is_suppressible(
    tap_config: dict[str, Any], sandbox: Any, tmp_path: Path, policy: str
) -> None:
    sandbox.control.reset(customers=15, seed=5)
    sandbox.control.set_extra_fields(customer={"contactMobile": MOBILE}, ids=SENT_TO)
    path = tmp_path / "wh.duckdb"
    # Customer 7 was erased earlier: its personal fields must land blank.
    con = duckdb.connect(str(path))
    add_suppressions(con, [Suppression("customers", "id", str(SUPPRESSED), "ticket-1")])
    con.close()
    config = {
        **tap_config,
        "personal_data": {"customers.contactMobile": policy},
        "personal_data_key": KEY,
    }
    summary = run_sync(config, "duckdb", path, progress_out=None)
    assert summary.status == "succeeded"
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = {r[0] for r in con.execute("DESCRIBE customers").fetchall()}
        landed = (
            dict(con.execute('SELECT id, "contactMobile" FROM customers').fetchall())
            if "contactMobile" in columns
            else {}
        )
    finally:
        con.close()
    assert str(MOBILE).encode() not in path.read_bytes()
    present = {cid: value for cid, value in landed.items() if value is not None}
    if policy == "hash":
        assert present == {cid: _hash(MOBILE) for cid in SENT_TO if cid != SUPPRESSED}
    else:
        assert present == {}


def test_a_mistyped_spec_field_is_refused_naming_the_field_it_resembles(
    tap_config: dict[str, Any], tmp_path: Path
) -> None:
    config = {**tap_config, "personal_data": {"customers.contactEmial": "drop"}}
    with pytest.raises(SyncError) as refused:
        run_sync(config, "duckdb", tmp_path / "wh.duckdb", progress_out=None)
    assert "did you mean 'customers.contactEmail'" in str(refused.value)
    assert not (tmp_path / "wh.duckdb").exists()
