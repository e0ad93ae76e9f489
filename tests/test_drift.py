"""Drift: AWS changed behind Slipway's back is flagged, and re-applying shows and fixes it."""

import pytest
from django.urls import reverse

from conftest import launch_lambda, wait_for
from deployments import engine
from deployments.models import Deployment
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_console_edit_is_flagged_as_drift_and_reapply_restores_the_spec(
    client, personas, aws_clean, celery_worker
):
    first = launch_lambda(personas, "drifty")
    wait_for(lambda: Deployment.objects.get(pk=first.pk).is_finished)
    instance = first.instance
    instance.refresh_from_db()
    assert instance.status == "healthy"
    assert engine.instances_check_drift()["drifted"] == 0

    # Someone changes the function in the console.
    aws_client("lambda").update_function_configuration(FunctionName="drifty-dev", MemorySize=512)
    assert engine.instances_check_drift()["drifted"] == 1
    instance.refresh_from_db()
    assert instance.status == "drifted"

    client.force_login(personas["bob"])
    response = client.post(reverse("deployments:reapply", args=["drifty", "dev"]))
    reapply = Deployment.objects.exclude(pk=first.pk).get()
    assert response["Location"] == reapply.get_absolute_url()
    lines = [line for change in reapply.plan for line in change["details"]]
    assert "memory 512 → 128 MB" in lines
    client.post(reverse("deployments:confirm", args=[reapply.pk]))
    done = wait_for(
        lambda: (
            Deployment.objects.get(pk=reapply.pk)
            if Deployment.objects.get(pk=reapply.pk).is_finished
            else None
        )
    )
    assert done.status == "succeeded", done.error
    config = aws_client("lambda").get_function_configuration(FunctionName="drifty-dev")
    assert config["MemorySize"] == 128
    instance.refresh_from_db()
    assert instance.status == "healthy"
