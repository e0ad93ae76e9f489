"""End to end: the Lambda form → a real Celery worker on Redis → the AWS emulator over HTTP."""

import pytest
from django.urls import reverse

from conftest import launch_lambda, wait_for
from deployments.models import Deployment
from deployments.tasks import run_deployment
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOURCE = "def handler(event, context):\n    return {'ok': True}\n"


def form_data(personas, name="orders", **overrides):
    data = {
        "name": name,
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": SOURCE,
        "memory_size": "256",
        "timeout": "15",
        "architecture": "x86_64",
        "env_vars": "LOG_LEVEL=debug",
    }
    data.update(overrides)
    return data


def finished(deployment_id):
    deployment = Deployment.objects.get(pk=deployment_id)
    return deployment if deployment.is_finished else None


def test_form_deploys_a_lambda_function_through_the_worker(
    client, personas, aws_clean, celery_worker
):
    client.force_login(personas["alice"])
    response = client.post(
        reverse("deployments:lambda_create"), form_data(personas, runtime="python3.11")
    )
    assert response.status_code == 302
    deployment = Deployment.objects.get()
    assert deployment.status == Deployment.Status.PLANNED
    response = client.post(reverse("deployments:confirm", args=[deployment.pk]))
    assert response.status_code == 302

    done = wait_for(lambda: finished(deployment.pk), message="deployment did not finish")
    assert done.status == Deployment.Status.SUCCEEDED, done.error

    # The AWS side, described through the emulator (not Slipway's own rows).
    config = aws_client("lambda").get_function(FunctionName="orders-dev")["Configuration"]
    assert config["Runtime"] == "python3.11"
    assert config["Handler"] == "app.handler"
    assert config["MemorySize"] == 256
    assert config["Timeout"] == 15
    assert config["Environment"]["Variables"] == {"LOG_LEVEL": "debug"}
    tags = aws_client("lambda").list_tags(Resource=config["FunctionArn"])["Tags"]
    assert tags["slipway:service"] == "orders"
    assert tags["slipway:team"] == "payments"
    assert tags["slipway:environment"] == "dev"

    # The instance records the ARN and the applied spec; the step log tells the story.
    instance = done.instance
    instance.refresh_from_db()
    assert instance.resources["function_arn"] == config["FunctionArn"]
    assert instance.applied_spec == done.spec
    names = list(done.steps.values_list("name", flat=True))
    assert "Create Lambda function orders-dev" in names
    assert names.index("Wait until AWS reports it stable") < names.index(
        "Ensure default CloudWatch alarms"
    )
    assert set(done.steps.values_list("status", flat=True)) == {"ok"}

    # The service page shows the finished deployment without a polling trigger.
    page = client.get(instance.service.get_absolute_url()).content.decode()
    assert "Succeeded" in page
    assert 'hx-trigger="every 2s"' not in page


def test_the_same_task_delivered_twice_runs_once(personas, aws_clean, celery_worker):
    deployment = launch_lambda(personas, "twice")
    # on_commit already enqueued it once; deliver it again straight away.
    run_deployment.delay(deployment.pk)
    run_deployment.delay(deployment.pk)
    done = wait_for(lambda: finished(deployment.pk))
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    assert done.attempts == 1
    assert done.steps.filter(name="Create Lambda function twice-dev").count() == 1
    functions = aws_client("lambda").list_functions()["Functions"]
    assert [f["FunctionName"] for f in functions] == ["twice-dev"]
