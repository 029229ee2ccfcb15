from __future__ import annotations

import pytest
import requests

from tap_equipme.sandbox import SandboxServer

ROUTES = [
    ("GET", "/v1/sales/customers"),
    ("POST", "/v1/sales/customers"),
    ("GET", "/v1/sales/customers/1"),
    ("PUT", "/v1/sales/customers/1"),
    ("PATCH", "/v1/sales/customers/1"),
    ("GET", "/v1/sales/customers/1/metadata"),
    ("POST", "/v1/sales/customers/1/metadata"),
    ("GET", "/v1/sales/customers/1/metadata/k"),
    ("DELETE", "/v1/sales/customers/1/metadata/k"),
    ("GET", "/v1/sales/unknown"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("headers", [{}, {"X-API-KEY": "wrong"}, {"X-API-KEY": ""}])
def test_missing_or_wrong_key_answers_401_on_every_route(
    sandbox: SandboxServer, method: str, path: str, headers: dict[str, str]
) -> None:
    response = requests.request(
        method, f"{sandbox.base_url}{path}", headers=headers, json={}, timeout=10
    )
    assert response.status_code == 401
    assert response.json() == {
        "errorCode": "Unauthorized",
        "errorDescription": "Missing or invalid API key (header X-API-KEY).",
        "data": None,
    }


@pytest.mark.parametrize("header", ["X-API-KEY", "X-API-Key", "x-api-key", "X-Api-Key"])
def test_key_header_name_is_case_insensitive(
    sandbox: SandboxServer, api_key: str, header: str
) -> None:
    response = requests.get(
        f"{sandbox.base_url}/v1/sales/customers", headers={header: api_key}, timeout=10
    )
    assert response.status_code == 200


def test_key_is_never_echoed_in_an_answer(sandbox: SandboxServer, api_key: str) -> None:
    almost = api_key + "x"
    response = requests.get(
        f"{sandbox.base_url}/v1/sales/customers", headers={"X-API-KEY": almost}, timeout=10
    )
    assert response.status_code == 401
    assert api_key not in response.text
    assert api_key not in str(response.headers)


def test_hooks_need_no_key(sandbox: SandboxServer) -> None:
    response = requests.get(f"{sandbox.base_url}/_sandbox/stats", timeout=10)
    assert response.status_code == 200
