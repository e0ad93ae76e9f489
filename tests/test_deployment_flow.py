"""Plan → confirm → (approve) → run, cancel, revert, guardrails, and who may do each."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from conftest import finished_deployment, lambda_spec, launch_lambda, wait_for
from deployments import guardrails, services
from deployments.models import Deployment
from deployments.provisioners import lambda_
from portal.aws import aws_client

SPEC = lambda_spec()


def plan(personas, slug="ledger", environment="dev", user="alice"):
    return launch_lambda(personas, slug, environment=environment, user=user, confirm=False)


def post(client, name, deployment):
    return client.post(reverse(f"deployments:{name}", args=[deployment.pk]))


@pytest.mark.django_db
class TestPermissions:
    @pytest.mark.parametrize("name", ["confirm", "approve", "reject", "cancel", "revert"])
    def test_anonymous_is_sent_to_login_and_nothing_changes(
        self, client, personas, aws_clean, name
    ):
        deployment = plan(personas)
        response = post(client, name, deployment)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
        deployment.refresh_from_db()
        assert deployment.status == Deployment.Status.PLANNED

    @pytest.mark.parametrize("name", ["confirm", "approve", "reject", "cancel", "revert"])
    def test_other_team_gets_403_and_nothing_changes(self, client, personas, aws_clean, name):
        deployment = plan(personas)
        client.force_login(personas["charlie"])
        assert post(client, name, deployment).status_code == 403
        deployment.refresh_from_db()
        assert deployment.status == Deployment.Status.PLANNED

    @pytest.mark.parametrize("name", ["confirm", "approve", "reject", "cancel", "revert"])
    def test_get_is_refused(self, client, personas, aws_clean, name):
        deployment = plan(personas)
        client.force_login(personas["alice"])
        response = client.get(reverse(f"deployments:{name}", args=[deployment.pk]))
        assert response.status_code == 405

    @pytest.mark.parametrize("name", ["update", "scale", "delete"])
    def test_instance_forms_are_for_owners_only(self, client, personas, aws_clean, name):
        deployment = plan(personas)
        url = reverse(f"deployments:{name}", args=[deployment.instance.service.slug, "dev"])
        assert client.get(url).status_code == 302
        client.force_login(personas["charlie"])
        assert client.get(url).status_code == 403
        assert client.post(url, {"confirm_name": "ledger"}).status_code == 403
        assert Deployment.objects.count() == 1


@pytest.mark.django_db
def test_only_the_requester_confirms_and_a_teammate_approves(client, personas, aws_clean):
    deployment = plan(personas, environment="prod")
    client.force_login(personas["bob"])
    assert post(client, "confirm", deployment).status_code == 403

    client.force_login(personas["alice"])
    post(client, "confirm", deployment)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.AWAITING_APPROVAL
    assert deployment.approval_expires_at > timezone.now()
    # The requester cannot approve their own change.
    assert post(client, "approve", deployment).status_code == 403
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.AWAITING_APPROVAL

    client.force_login(personas["bob"])
    page = client.get(deployment.get_absolute_url()).content.decode()
    assert "Approve" in page
    post(client, "approve", deployment)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.QUEUED
    assert deployment.approved_by == personas["bob"]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"deployment.create.plan", "deployment.create.confirm", "deployment.approve"} <= actions


@pytest.mark.django_db
def test_rejected_and_expired_approvals_never_run(client, personas, aws_clean):
    deployment = plan(personas, environment="prod")
    services.deployment_confirm(deployment=deployment, user=personas["alice"])
    client.force_login(personas["bob"])
    post(client, "reject", deployment)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.CANCELLED
    assert deployment.error == "Rejected by bob."

    second = services.deployment_plan(
        instance=deployment.instance, spec=SPEC | {"memory_size": 256}, user=personas["alice"]
    )
    services.deployment_confirm(deployment=second, user=personas["alice"])
    Deployment.objects.filter(pk=second.pk).update(
        approval_expires_at=timezone.now() - timedelta(minutes=1)
    )
    response = post(client, "approve", second)
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.status == Deployment.Status.CANCELLED
    assert "expired" in second.error


@pytest.mark.django_db
def test_one_active_deployment_per_instance(personas, aws_clean):
    first = plan(personas)
    services.deployment_confirm(deployment=first, user=personas["alice"])
    second = services.deployment_plan(
        instance=first.instance, spec=SPEC | {"memory_size": 512}, user=personas["bob"]
    )
    with pytest.raises(services.DeploymentConflict, match="already in progress"):
        services.deployment_confirm(deployment=second, user=personas["bob"])


@pytest.mark.django_db
def test_cancel_a_queued_deployment_before_a_worker_takes_it(client, personas, aws_clean):
    deployment = plan(personas)
    services.deployment_confirm(deployment=deployment, user=personas["alice"])
    client.force_login(personas["bob"])
    post(client, "cancel", deployment)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.CANCELLED
    assert deployment.instance.status == "not_deployed"


def test_guardrails_refuse_big_cuts_zero_and_caps(personas, monkeypatch):
    monkeypatch.setattr(
        lambda_,
        "scale_values",
        lambda spec: {"reserved_concurrency": spec.get("reserved_concurrency")},
        raising=False,
    )
    env = personas["prod"]
    env.allow_scale_to_zero = False
    env.max_lambda_concurrency = 100

    def check(before, after):
        guardrails.check(
            environment=env,
            kind="lambda",
            before={"reserved_concurrency": before},
            after={"reserved_concurrency": after},
        )

    check(10, 5)  # exactly 50 %: allowed
    check(10, 100)  # up to the cap: allowed
    with pytest.raises(guardrails.GuardrailViolation, match="cuts 60 %.*go to 5 first"):
        check(10, 4)
    with pytest.raises(guardrails.GuardrailViolation, match="does not allow scaling .* to zero"):
        check(10, 0)
    with pytest.raises(guardrails.GuardrailViolation, match="above the Production cap of 100"):
        check(10, 101)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_revert_to_an_earlier_spec_in_one_click(client, personas, aws_clean, celery_worker):
    first = plan(personas, slug="revertible")
    services.deployment_confirm(deployment=first, user=personas["alice"])
    assert wait_for(lambda: finished_deployment(first.pk)).status == "succeeded"
    first.instance.refresh_from_db()
    bigger = services.deployment_request(
        instance=first.instance,
        spec=first.instance.applied_spec | {"memory_size": 1024},
        user=personas["alice"],
    )
    assert wait_for(lambda: finished_deployment(bigger.pk)).status == "succeeded"
    fn = "revertible-dev"
    assert aws_client("lambda").get_function_configuration(FunctionName=fn)["MemorySize"] == 1024

    client.force_login(personas["bob"])
    response = post(client, "revert", first)
    revert = Deployment.objects.get(action="revert")
    assert response["Location"] == revert.get_absolute_url()
    assert revert.status == "planned"
    assert revert.reverts == first
    assert any("memory 1024 → 128 MB" in line for c in revert.plan for line in c["details"])
    post(client, "confirm", revert)
    assert wait_for(lambda: finished_deployment(revert.pk)).status == "succeeded"
    assert aws_client("lambda").get_function_configuration(FunctionName=fn)["MemorySize"] == 128
    assert AuditEvent.objects.filter(action="deployment.succeeded", source="system").count() == 3

    # AWS now matches the original spec: planning it again says so and records nothing.
    revert.instance.refresh_from_db()
    count = Deployment.objects.count()
    with pytest.raises(services.NothingToChange):
        services.deployment_plan(instance=revert.instance, spec=first.spec, user=personas["bob"])
    assert Deployment.objects.count() == count
