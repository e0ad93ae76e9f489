"""Limits on callers: API requests per token and per address (429 + Retry-After, documented in
the OpenAPI schema), and failed sign-ins per address across usernames (password spraying).

Each test calls from an address of its own, so buckets left in Redis by other tests (or runs)
do not count.
"""

from __future__ import annotations

import secrets

import pytest
from django.urls import reverse

from api.services import token_create
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def fresh_address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


@pytest.fixture
def address() -> str:
    return fresh_address()


def api_get(client, token: str, address: str):
    return client.get(
        "/api/v1/teams", headers={"Authorization": f"Bearer {token}"}, REMOTE_ADDR=address
    )


def test_a_token_past_its_limit_gets_429_with_retry_after(client, personas, settings, address):
    settings.API_RATE_LIMIT_PER_TOKEN = (0.05, 3)  # a burst of 3, then one per 20 s
    _, busy = token_create(user=personas["alice"], name="busy")
    _, other = token_create(user=personas["alice"], name="other")

    assert [api_get(client, busy, address).status_code for _ in range(3)] == [200, 200, 200]
    refused = api_get(client, busy, address)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 20
    assert "with this token" in refused.json()["detail"]
    assert api_get(client, other, address).status_code == 200  # its own bucket


def test_an_address_past_its_limit_gets_429_even_when_guessing_tokens(
    client, personas, settings, address
):
    settings.API_RATE_LIMIT_PER_ADDRESS = (0.05, 4)
    _, token = token_create(user=personas["alice"], name="t")
    answers = [api_get(client, "slw_guess", address).status_code for _ in range(3)]
    answers.append(api_get(client, token, address).status_code)
    assert answers == [401, 401, 401, 200]
    refused = api_get(client, token, address)  # a valid token does not lift the address limit
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "from this address" in refused.json()["detail"]
    assert api_get(client, "slw_guess", address).status_code == 429  # no more guesses either
    # A forged X-Forwarded-For does not pick another bucket.
    forged = client.get(
        "/api/v1/teams",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "192.0.2.1"},
        REMOTE_ADDR=address,
    )
    assert forged.status_code == 429
    assert api_get(client, token, fresh_address()).status_code == 200  # another address


def test_every_operation_documents_429_and_retry_after(client):
    schema = client.get("/api/v1/openapi.json").json()
    operations = [op for ops in schema["paths"].values() for op in ops.values()]
    assert len(operations) >= 10
    for operation in operations:
        answer = operation["responses"]["429"]
        assert answer["headers"]["Retry-After"]["schema"] == {"type": "integer"}
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_password_spraying_pauses_sign_in_from_that_address(client, personas, settings, address):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 5
    url = reverse("login")
    # One wrong guess each for many usernames: axes' per-username lockout never triggers.
    for username in ("alice", "bob", "charlie", "staff", "nobody"):
        response = client.post(
            url, {"username": username, "password": "Winter2026!"}, REMOTE_ADDR=address
        )
        assert response.status_code == 200
    paused = client.post(url, {"username": "bob", "password": PASSWORD}, REMOTE_ADDR=address)
    assert paused.status_code == 429
    assert 1 <= int(paused.headers["Retry-After"]) <= settings.LOGIN_ADDRESS_WINDOW_SECONDS
    assert "Too many failed sign-ins" in paused.content.decode()
    assert "_auth_user_id" not in client.session

    # Another address signs in as usual.
    ok = client.post(url, {"username": "bob", "password": PASSWORD}, REMOTE_ADDR=fresh_address())
    assert ok.status_code == 302
