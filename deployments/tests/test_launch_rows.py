"""A launch's rows: who did what, in order, all or nothing (services.service_launch writes them in
one transaction without savepoints, its audit rows in one INSERT at the end)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance
from conftest import field_errors, launch_lambda
from deployments.models import Deployment, DeploymentEvent
from deployments.tests.test_lambda_form import valid_data

pytestmark = [pytest.mark.integration]


def _trail(since: int) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(pk__gt=since)
        .order_by("pk")
        .values_list("action", "actor_name", "target_type", "target_id", "source", "after")
    )


def _last_audit() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.mark.parametrize(
    ("environment", "status"), [("dev", "queued"), ("prod", "awaiting_approval")]
)
def test_launch_records_who_did_what_in_order(personas, aws_clean, environment, status):
    since = _last_audit()
    deployment = launch_lambda(personas, "orders", environment=environment)
    service = Service.objects.get(slug="orders")
    trail = _trail(since)
    assert [row[:5] for row in trail] == [
        ("service.create", "alice", "catalog.service", str(service.pk), "web"),
        ("deployment.create.plan", "alice", "deployments.deployment", str(deployment.pk), "web"),
        ("deployment.create.confirm", "alice", "deployments.deployment", str(deployment.pk), "web"),
    ]
    assert trail[0][5]["owner"] == "payments" and trail[0][5]["depends_on"] == []
    assert trail[2][5] == {"status": status}
    row = Deployment.objects.select_related("instance").get(pk=deployment.pk)
    assert row.status == status
    instance_status = "deploying" if status == "queued" else "not_deployed"
    assert row.instance.status == instance_status
    # The request is announced once, as the deployment's first event.
    events = list(DeploymentEvent.objects.filter(deployment=row).values_list("sequence", "type"))
    assert events == [(1, "deployment.requested")]


def test_a_taken_name_refuses_the_launch_and_writes_nothing(personas, aws_clean):
    """Two people, one name: the second launch (past its form's check) is refused in words and
    leaves no service, instance, deployment or audit row."""
    catalog_services.service_create(
        user=personas["charlie"], owner=personas["search"], slug="orders", kind="lambda"
    )
    since, deployments = _last_audit(), Deployment.objects.count()
    with pytest.raises(ValidationError) as refused:
        launch_lambda(personas, "orders")
    assert "already exists" in str(refused.value.message_dict["slug"])
    assert _trail(since) == []
    assert Deployment.objects.count() == deployments
    assert Service.objects.get(slug="orders").owner == personas["search"]
    assert not ServiceInstance.objects.filter(service__slug="orders").exists()


@pytest.mark.parametrize("owner", ["search", "9999", "x"])
def test_the_owner_must_be_one_of_the_users_teams(client, personas, aws_clean, owner):
    """The create form finds the owner among the user's teams (read once): another team, a
    team that does not exist or a non-number is an invalid choice, and nothing is created."""
    client.force_login(personas["alice"])
    value = personas[owner].pk if owner in personas else owner
    response = client.post(reverse("deployments:lambda_create"), valid_data(personas, owner=value))
    assert response.status_code == 400
    assert any("valid choice" in e for e in field_errors(response, "owner"))
    assert not Service.objects.filter(slug="orders").exists()


def test_the_users_team_is_accepted_as_posted(client, personas, aws_clean):
    client.force_login(personas["alice"])
    data = valid_data(personas, owner=f" {personas['payments'].pk} ")
    response = client.post(reverse("deployments:lambda_create"), data)
    assert response.status_code == 302, field_errors(response, "owner")
    assert Service.objects.get(slug="orders").owner == personas["payments"]
