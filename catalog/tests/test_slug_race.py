"""Two people, one service name, at the same moment: the loser's request, whose own check
passed before the winner's row was there, is answered as if its check had found the row (the
form's field error, the API's 422 with the validation error shape), and writes nothing.

The race is made deterministic: the winner's row is inserted after the loser's check and
before its INSERT (in a wrapper around the step between them). The admin's test is a real
one: the winner's row is committed by another database connection (a thread).
"""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse

from api.tests.test_api import bearer, lambda_fields
from audit.models import AuditEvent
from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance, Team
from conftest import field_errors, field_html
from deployments import services as deploy_services
from deployments.forms.common import NAME_TAKEN
from deployments.models import CodeArtifact, Deployment
from deployments.tests.test_lambda_form import valid_data
from portal.aws import aws_client

pytestmark = [pytest.mark.integration]


def _winner(personas, slug: str = "orders") -> Service:
    """charlie's service (team search), inserted as his own launch would leave it."""
    return Service.objects.create(slug=slug, name=slug, kind="lambda", owner=personas["search"])


def _taken_after_the_plan(monkeypatch, personas):
    """charlie's row appears after the launch planned (its AWS reads done, the form's and
    the plan's checks passed) and before the launch's transaction inserts its own."""
    plan_checked = deploy_services._plan_checked

    def plan_then_charlie_launches(**kwargs):
        planned = plan_checked(**kwargs)
        _winner(personas)
        return planned

    monkeypatch.setattr(deploy_services, "_plan_checked", plan_then_charlie_launches)


def _committed_after_unique_check(monkeypatch, model, make) -> list[bool]:
    """`make()`, run on another database connection (a thread) and committed, after the first
    new `model` row's unique check (validate_unique: full_clean's, a ModelForm's) passed and
    before that row's INSERT: a real race, as two requests run it. Needs a transactional test
    database."""
    validate_unique = model.validate_unique
    committed: list[bool] = []

    def other_connection_commits():
        try:
            make()
            committed.append(True)
        finally:
            connection.close()

    def check_then_someone_commits(self, *args, **kwargs):
        validate_unique(self, *args, **kwargs)
        if not committed and self.pk is None:
            thread = threading.Thread(target=other_connection_commits)
            thread.start()
            thread.join(timeout=30)

    monkeypatch.setattr(model, "validate_unique", check_then_someone_commits)
    return committed


def _counts() -> tuple[int, ...]:
    return (
        Service.objects.count(),
        ServiceInstance.objects.count(),
        Deployment.objects.count(),
        CodeArtifact.objects.count(),
        AuditEvent.objects.exclude(action__startswith="api.").count(),
    )


def _only_charlies(personas) -> None:
    [service] = Service.objects.filter(slug="orders")
    assert service.owner == personas["search"]
    assert not ServiceInstance.objects.filter(service=service).exists()
    assert not Deployment.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="deployment.").exists()
    assert not AuditEvent.objects.filter(action="service.create", actor=personas["alice"]).exists()
    # Nothing was made in AWS for alice's refused launch.
    assert aws_client("lambda").list_functions()["Functions"] == []


def test_new_service_form_answers_a_name_taken_meanwhile_with_its_own_error(
    client, personas, aws_clean, monkeypatch
):
    client.force_login(personas["alice"])
    _taken_after_the_plan(monkeypatch, personas)
    before = _counts()
    response = client.post(reverse("deployments:lambda_create"), valid_data(personas))
    assert response.status_code == 400
    assert field_errors(response, "name") == [NAME_TAKEN]
    assert NAME_TAKEN in field_html(response, "name")
    # The same page and words as when the name was taken before the form's check.
    monkeypatch.undo()
    again = client.post(reverse("deployments:lambda_create"), valid_data(personas))
    assert again.status_code == 400 and field_errors(again, "name") == [NAME_TAKEN]
    assert _counts() == (before[0] + 1, *before[1:])
    _only_charlies(personas)


def test_api_launch_answers_a_name_taken_meanwhile_with_422(
    client, personas, aws_clean, monkeypatch
):
    headers = bearer(personas["alice"])
    _taken_after_the_plan(monkeypatch, personas)
    before = _counts()
    body = {"name": "orders", "owner": "payments", "environment": "dev", "spec": lambda_fields()}
    response = client.post(
        "/api/v1/launches", body, content_type="application/json", headers=headers
    )
    assert response.status_code == 422, response.content
    assert response.json() == {"detail": "Invalid input.", "errors": {"name": [NAME_TAKEN]}}
    # A name taken before the request: the same answer.
    monkeypatch.undo()
    again = client.post("/api/v1/launches", body, content_type="application/json", headers=headers)
    assert (again.status_code, again.json()) == (422, response.json())
    assert _counts() == (before[0] + 1, *before[1:])
    _only_charlies(personas)
    refused = AuditEvent.objects.filter(action="api.service.launch").values_list(
        "result", flat=True
    )
    assert list(refused) == ["failed", "failed"]


def test_api_launch_declares_its_422(client, db):
    schema = client.get(reverse("api-v1:openapi-json")).json()
    answers = schema["paths"]["/api/v1/launches"]["post"]["responses"]
    assert answers["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FormErrors"
    }


@pytest.mark.django_db(transaction=True)
def test_api_create_service_answers_a_slug_taken_meanwhile_as_a_taken_one(
    client, personas, monkeypatch
):
    headers = bearer(personas["alice"])
    body = {"slug": "orders", "kind": "lambda", "owner": "payments"}
    committed = _committed_after_unique_check(monkeypatch, Service, lambda: _winner(personas))
    before = _counts()
    raced = client.post("/api/v1/services", body, content_type="application/json", headers=headers)
    assert committed == [True]
    monkeypatch.undo()
    taken = client.post("/api/v1/services", body, content_type="application/json", headers=headers)
    assert raced.status_code == 422, raced.content
    assert (raced.status_code, raced.json()) == (taken.status_code, taken.json())
    assert list(raced.json()["errors"]) == ["slug"]
    assert "already exists" in raced.json()["errors"]["slug"][0]
    assert _counts() == (before[0] + 1, *before[1:])
    assert Service.objects.get(slug="orders").owner == personas["search"]


@pytest.mark.django_db(transaction=True)
def test_service_create_refuses_with_slug_taken_and_leaves_the_transaction_usable(
    personas, monkeypatch
):
    """A caller inside its own transaction (an import, an adoption) gets a ValidationError and
    can go on: service_create's savepoint took its half-written row back."""
    committed = _committed_after_unique_check(monkeypatch, Service, lambda: _winner(personas))
    with pytest.raises(catalog_services.SlugTaken) as refused:
        catalog_services.service_create(
            user=personas["alice"], owner=personas["payments"], slug="orders", kind="lambda"
        )
    assert committed == [True]
    assert "already exists" in refused.value.message_dict["slug"][0]
    assert Service.objects.filter(slug="orders").count() == 1  # the database still answers
    assert not AuditEvent.objects.filter(action="service.create").exists()


@pytest.mark.django_db(transaction=True)
def test_adoption_answers_a_slug_taken_meanwhile_in_words(personas, aws_clean, monkeypatch):
    from interop import discovery
    from interop.tests.test_discovery import make_unmanaged_function

    make_unmanaged_function()
    committed = _committed_after_unique_check(monkeypatch, Service, lambda: _winner(personas))
    with pytest.raises(ValidationError) as refused:
        discovery.resource_adopt(
            environment=personas["dev"],
            kind="lambda",
            name="legacy-billing",
            owner=personas["payments"],
            slug="orders",
            user=personas["alice"],
        )
    assert committed == [True]
    assert refused.value.messages == [
        "A service named orders was added a moment ago; choose another name."
    ]
    assert Service.objects.get(slug="orders").owner == personas["search"]
    assert not ServiceInstance.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (Team, {"slug": "orders", "name": "Orders"}),
        (
            Service,
            {"slug": "orders", "name": "orders", "kind": "lambda", "lifecycle": "production"},
        ),
    ],
)
def test_admin_add_answers_a_slug_committed_meanwhile_with_its_form_error(
    client, personas, monkeypatch, model, fields
):
    """A real race: the form's unique check passes, then another connection commits the same
    slug before this request's INSERT."""
    data = dict(fields)
    if model is Service:
        data.update(owner=personas["payments"].pk, tags="[]", description="")
    else:  # the memberships inline, empty
        data.update({"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    committed = _committed_after_unique_check(
        monkeypatch,
        model,
        lambda: (
            _winner(personas)
            if model is Service
            else Team.objects.create(slug="orders", name="Theirs")
        ),
    )
    client.force_login(personas["staff"])
    personas["staff"].is_superuser = True
    personas["staff"].save()
    url = reverse(f"admin:catalog_{model._meta.model_name}_add")
    response = client.post(url, data)
    assert committed == [True]
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["slug"] and "already exists" in errors["slug"][0]
    [row] = model.objects.filter(slug="orders")
    assert row.pk is not None and (
        row.owner == personas["search"] if model is Service else row.name == "Theirs"
    )
