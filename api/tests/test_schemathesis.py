"""Fuzz the API from its own OpenAPI schema (schemathesis): no input may cause a 5xx, and no
answer carries an environment variable's or a secret's value (only their names).

Bounded for `make test`: a few derandomized examples per operation and a time limit. The
calls go through the WSGI app in-process, as alice (a member of payments) with a real token;
the emulator is up so an input that happens to be valid can still be planned against AWS.
"""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import token_create
from catalog import services as catalog_services

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@pytest.fixture
def _keep_db_connection():
    """As Django's test client does: a request must not close the test's DB connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


ENV_VALUE = "env-value-the-api-must-not-show"
SECRET_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/checkout/db"


@pytest.fixture
def alice_headers(personas, _keep_db_connection):
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="checkout", kind="lambda"
    )
    # A deployed instance whose applied spec holds a value and a secret reference, as a
    # finished deployment leaves them.
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    instance.applied_spec = {
        "kind": "lambda",
        "runtime": "python3.12",
        "handler": "app.handler",
        "environment": {"DB_URL": ENV_VALUE},
        "secrets": {"DB_PASSWORD": SECRET_ARN},
    }
    instance.save()
    _, secret = token_create(user=personas["alice"], name="fuzz")
    return {"Authorization": f"Bearer {secret}"}


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_api_fail(case, alice_headers, aws_emulator):
    response = case.call_and_validate(headers=alice_headers, checks=[not_a_server_error])
    assert ENV_VALUE not in response.text and SECRET_ARN not in response.text
    for spec in _applied_specs(response):
        for key in ("environment", "secrets"):
            assert not isinstance(spec.get(key), dict), f"{key} values in {case.path}"


def _applied_specs(response) -> list[dict]:
    """Every `applied_spec` object anywhere in a JSON answer."""
    try:
        data = json.loads(response.text)
    except ValueError:
        return []
    found, stack = [], [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("applied_spec"), dict):
                found.append(node["applied_spec"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


@pytest.fixture
def tight_token_limit(settings):
    """One request per token, then the bucket refills far slower than the test runs."""
    settings.API_RATE_LIMIT_PER_TOKEN = (0.001, 1)


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_rate_limited_answers_are_documented(case, tight_token_limit, alice_headers, aws_emulator):
    """Past the per-token limit every operation answers 429 as its schema says: a documented
    status, an Error body, and Retry-After in whole seconds."""
    response = case.call(headers=alice_headers)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code == 429:
        case.validate_response(
            response, checks=[status_code_conformance, response_schema_conformance]
        )
        retry_after = response.headers.get("retry-after") or response.headers.get("Retry-After")
        value = retry_after[0] if isinstance(retry_after, list) else retry_after
        assert int(value) >= 1
