"""One definition of a service's catalog data (catalog/specs.py): the settings page, the API's
PATCH and create, and catalog.services refuse the same input with the same message."""

import json

import pytest
from django.core.exceptions import ValidationError

from api.services import token_create
from audit.models import AuditEvent
from catalog import services
from catalog.models import Service
from catalog.tests.test_service_pages import settings_url, valid_settings
from conftest import field_errors

PATCH_URL = "/api/v1/services/checkout"


def bearer(user) -> dict:
    _, secret = token_create(user=user, name="test")
    return {"authorization": f"Bearer {secret}"}


def patch(client, body, user, headers=None):
    headers = headers or bearer(user)
    return client.patch(PATCH_URL, json.dumps(body), "application/json", headers=headers)


CASES = [
    ("tags", "ok, Bad!", ["ok", "Bad!"], "Not a tag: bad!."),
    ("tags", " ".join(f"t{i}" for i in range(21)), [f"t{i}" for i in range(21)], "At most 20"),
    ("description", "x" * 5_000_000, "x" * 5_000_000, "at most 2000 characters"),
    ("repo_url", "not a url", "not a url", "Enter a valid URL."),
    ("docs_url", "ftp://docs.example.com", "ftp://docs.example.com", "Enter a valid URL."),
    ("name", "n" * 101, "n" * 101, "at most 100 characters"),
    ("depends_on", "ledger ghost", ["ledger", "ghost"], "No service named ghost in the catalog."),
    ("depends_on", "checkout", ["checkout"], "A service cannot depend on itself."),
]


@pytest.mark.parametrize(
    ("field", "typed", "sent", "message"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_form_and_api_refuse_alike_and_change_nothing(client, catalog, field, typed, sent, message):
    before = AuditEvent.objects.filter(action="service.update").count()

    client.force_login(catalog["alice"])
    response = client.post(settings_url(), valid_settings(**{field: typed}))
    assert response.status_code == 400
    form_messages = field_errors(response, field)
    assert any(message in m for m in form_messages), form_messages

    response = patch(client, {field: sent}, catalog["bob"])
    assert response.status_code == 422, response.content[:300]
    assert response.json()["errors"][field] == form_messages

    service = Service.objects.get(slug="checkout")
    assert service.name == "Checkout" and service.tags == ["pci", "python"]
    assert len(service.description) < 100
    assert [s.slug for s in service.depends_on.all()] == ["ledger"]
    # No audit row claims a change that did not happen.
    assert AuditEvent.objects.filter(action="service.update").count() == before
    assert not AuditEvent.objects.filter(action="api.service.update", result="ok").exists()


@pytest.mark.parametrize("body", [[], [{"name": "x"}], "text", 42, None])
def test_a_patch_body_that_is_not_an_object_is_refused_and_not_audited(client, catalog, body):
    headers = bearer(catalog["alice"])  # making a token is audited: before counting
    before = AuditEvent.objects.count()
    response = patch(client, body, catalog["alice"], headers)
    assert response.status_code == 422, response.content
    assert AuditEvent.objects.count() == before
    assert Service.objects.get(slug="checkout").name == "Checkout"


def test_api_create_refuses_the_tags_the_form_refuses(client, catalog):
    body = {"slug": "orders", "kind": "lambda", "owner": "payments", "tags": ["ok", "Bad!"]}
    response = client.post(
        "/api/v1/services", json.dumps(body), "application/json", headers=bearer(catalog["alice"])
    )
    assert response.status_code == 422
    assert response.json()["errors"]["tags"][0].startswith("Not a tag: bad!.")
    assert not Service.objects.filter(slug="orders").exists()


def test_the_service_refuses_too_whoever_calls_it(catalog):
    with pytest.raises(ValidationError) as caught:
        services.service_update(
            service=catalog["checkout"], user=catalog["alice"], name="Checkout", tags=["Bad!"]
        )
    assert caught.value.message_dict["tags"][0].startswith("Not a tag: bad!.")
    with pytest.raises(ValidationError):
        services.service_create(
            user=catalog["alice"],
            owner=catalog["payments"],
            slug="orders",
            kind="lambda",
            tags=["<b>"],
        )
    assert Service.objects.get(slug="checkout").tags == ["pci", "python"]


def test_good_input_is_stored_the_same_way_on_both_paths(client, catalog):
    client.force_login(catalog["alice"])
    response = client.post(settings_url(), valid_settings(tags="Go, go, PCI"))
    assert response.status_code == 302
    assert Service.objects.get(slug="checkout").tags == ["go", "pci"]
    response = patch(client, {"tags": ["Batch", "batch", " x "]}, catalog["bob"])
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["batch", "x"]
