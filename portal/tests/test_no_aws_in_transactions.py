"""No AWS call runs inside a database transaction: plans read AWS first, then a short
transaction writes the rows (portal/aws.py's before-send guard; the suite runs with "raise")."""

import pytest
from django.db import transaction
from django.urls import reverse

from deployments import engine
from deployments.models import Deployment
from portal import aws

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def test_the_guard_refuses_an_aws_call_inside_a_transaction(aws_emulator):
    with (
        aws.recorded_calls() as calls,
        transaction.atomic(),
        pytest.raises(aws.AwsCallInTransaction, match="lambda.ListFunctions"),
    ):
        aws.aws_client("lambda").list_functions()
    aws.aws_client("lambda").list_functions()  # outside a transaction: allowed
    assert calls == [("lambda.ListFunctions", True)]


def run_in_process(deployment_id: int) -> Deployment:
    """What the worker does, through the same engine functions, in this process."""
    lease = engine.deployment_claim(deployment_id=deployment_id)
    assert lease is not None
    outcome = engine.deployment_execute(deployment_id=deployment_id, lease=lease)
    for _ in range(30):
        if outcome.kind == engine.Outcome.DONE:
            break
        outcome = engine.deployment_check(deployment_id=deployment_id, lease=lease)
    deployment = Deployment.objects.get(pk=deployment_id)
    assert deployment.status == Deployment.Status.SUCCEEDED, deployment.error
    return deployment


def newest() -> Deployment:
    return Deployment.objects.order_by("-pk").first()


def test_plan_confirm_deploy_scale_drift_and_delete_call_aws_outside_transactions(
    client, personas, aws_clean, monkeypatch
):
    from deployments import tasks

    # The worker's part runs below in this process, so its AWS calls are recorded too.
    monkeypatch.setattr(tasks.run_deployment, "delay", lambda *args, **kwargs: None)
    client.force_login(personas["alice"])
    with aws.recorded_calls() as calls:
        response = client.post(
            reverse("deployments:lambda_create"),
            {
                "name": "orders",
                "owner": personas["payments"].pk,
                "environment": personas["dev"].pk,
                "runtime": "python3.12",
                "handler": "app.handler",
                "source": SOURCE,
                "memory_size": "128",
                "timeout": "5",
                "architecture": "x86_64",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        created = newest()
        assert client.post(reverse("deployments:confirm", args=[created.pk])).status_code == 302
        run_in_process(created.pk)

        scale = reverse("deployments:scale", args=["orders", "dev"])
        response = client.post(scale, {"reserved_concurrency": "5", "provisioned_concurrency": "1"})
        assert response.status_code == 302, response.content.decode()[:2000]
        scaled = newest()
        assert client.post(reverse("deployments:confirm", args=[scaled.pk])).status_code == 302
        run_in_process(scaled.pk)

        assert engine.instances_check_drift() == {"checked": 1, "drifted": 0}

        delete = reverse("deployments:delete", args=["orders", "dev"])
        assert client.post(delete, {"confirm_name": "orders"}).status_code == 302
        deleted = newest()
        assert deleted.action == Deployment.Action.DELETE
        assert client.post(reverse("deployments:confirm", args=[deleted.pk])).status_code == 302
        run_in_process(deleted.pk)

    operations = {operation for operation, _ in calls}
    # The flows really talked to AWS: reads for the plans, writes from the engine.
    assert {
        "lambda.GetFunction",
        "lambda.CreateFunction",
        "lambda.PutProvisionedConcurrencyConfig",
        "cloudwatch.PutMetricAlarm",
        "lambda.DeleteFunction",
    } <= operations
    inside = [operation for operation, open_transaction in calls if open_transaction]
    assert inside == []
