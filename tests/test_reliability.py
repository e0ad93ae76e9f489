"""Crash safety and AWS trouble: a killed worker, throttling, permanent errors, rollback."""

import time

import pytest
from django.urls import reverse

from conftest import finished_deployment, launch_lambda, wait_for
from deployments import services, tasks
from deployments.models import Deployment, DeploymentStep
from portal.aws import aws_client
from tests.faultproxy import Rule

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def functions_tagged(service_slug):
    lam = aws_client("lambda")
    return [
        f["FunctionName"]
        for f in lam.list_functions()["Functions"]
        if lam.list_tags(Resource=f["FunctionArn"])["Tags"].get("slipway:service") == service_slug
    ]


def test_throttling_is_retried_and_every_deployment_succeeds(
    personas, aws_clean, faults, celery_worker
):
    faults.add(Rule("CreateRole", times=1, status=400, code="Throttling"))
    faults.add(Rule("CreateFunction", times=2, status=429, code="TooManyRequestsException"))
    faults.add(Rule("GetFunctionConfiguration", times=1, status=503, code="ServiceUnavailable"))
    deployments = [launch_lambda(personas, f"busy-{i}") for i in range(3)]

    for deployment in deployments:
        done = wait_for(lambda d=deployment: finished_deployment(d.pk), timeout=90)
        assert done.status == Deployment.Status.SUCCEEDED, done.error
    assert faults.faults["CreateFunction"] == 2
    assert faults.faults["CreateRole"] == 1
    for i in range(3):
        assert functions_tagged(f"busy-{i}") == [f"busy-{i}-dev"]
    notes = Deployment.objects.filter(steps__name__startswith="Temporary AWS error").count()
    assert notes >= 2  # the retries are visible in the step logs


def test_permanent_error_fails_fast_and_rolls_back_with_the_aws_message(
    client, personas, aws_clean, faults, celery_worker
):
    first = launch_lambda(personas, "strict")
    assert wait_for(lambda: finished_deployment(first.pk)).status == Deployment.Status.SUCCEEDED
    faults.add(
        Rule(
            "UpdateFunctionConfiguration",
            times=1,
            status=400,
            code="InvalidParameterValueException",
            message="MemorySize value failed to satisfy constraint",
        )
    )
    instance = first.instance
    instance.refresh_from_db()
    update = services.deployment_request(
        instance=instance, spec={**instance.applied_spec, "memory_size": 256}, user=personas["bob"]
    )

    done = wait_for(lambda: finished_deployment(update.pk))
    assert done.status == Deployment.Status.ROLLED_BACK
    assert "InvalidParameterValueException: MemorySize value failed" in done.error
    failed = done.steps.get(status="failed")
    assert failed.name == "Update function configuration"
    assert done.attempts == 1  # permanent: no retries
    config = aws_client("lambda").get_function_configuration(FunctionName="strict-dev")
    assert config["MemorySize"] == 128
    page = client.get(reverse("deployments:detail", args=[update.pk]))
    assert page.status_code == 302  # login required
    client.force_login(personas["bob"])
    html = client.get(reverse("deployments:detail", args=[update.pk])).content.decode()
    assert "Rolled Back" in html
    assert "MemorySize value failed to satisfy constraint" in html


def test_worker_killed_mid_deployment_runs_again_within_30_s_without_duplicates(
    client, personas, aws_clean, faults, celery_worker, settings
):
    # Hold CreateFunction in flight long enough to kill the worker while it waits for AWS.
    faults.add(Rule("CreateFunction", times=1, delay=4.0))
    deployment = launch_lambda(personas, "phoenix")
    wait_for(lambda: faults.counts["CreateFunction"] >= 1, timeout=30)
    assert Deployment.objects.get(pk=deployment.pk).status == Deployment.Status.RUNNING

    celery_worker.kill()
    killed_at = time.monotonic()
    celery_worker.start()
    # What beat does (every SLIPWAY_RECONCILE_EVERY s), with the shipped settings: no shortened
    # stale window here, the dead worker's liveness key has to expire on its own.
    every = settings.CELERY_BEAT_SCHEDULE["reconcile-deployments"]["schedule"]

    def second_attempt_running():
        row = Deployment.objects.get(pk=deployment.pk)
        if row.attempts >= 2 and row.status != Deployment.Status.QUEUED:
            return row
        tasks.reconcile_deployments()
        time.sleep(every)
        return None

    wait_for(second_attempt_running, timeout=45, interval=0)
    rerun_after = time.monotonic() - killed_at
    print(f"re-run started {rerun_after:.1f} s after the SIGKILL")
    assert rerun_after < 30, f"re-run started {rerun_after:.1f} s after the SIGKILL"

    done = wait_for(lambda: finished_deployment(deployment.pk), timeout=90)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    assert done.attempts == 2
    # The killed attempt's step says what happened to it; nothing is left "running".
    interrupted = list(done.steps.filter(status=DeploymentStep.Status.INTERRUPTED))
    assert len(interrupted) == 1 and "function phoenix-dev" in interrupted[0].name, interrupted
    assert "stopped during this step" in interrupted[0].message
    assert not done.steps.filter(status=DeploymentStep.Status.RUNNING).exists()
    client.force_login(personas["alice"])
    html = client.get(reverse("deployments:detail", args=[deployment.pk])).content.decode()
    assert "status-interrupted" in html and "Interrupted" in html

    time.sleep(4.5)  # let the held request land too, then count what exists
    assert functions_tagged("phoenix") == ["phoenix-dev"]
    roles = [
        r["RoleName"]
        for r in aws_client("iam").list_roles()["Roles"]
        if r["RoleName"] == "slipway-dev-lambda-exec"
    ]
    assert roles == ["slipway-dev-lambda-exec"]
    done.instance.refresh_from_db()
    assert done.instance.resources["function_arn"].endswith(":function:phoenix-dev")
