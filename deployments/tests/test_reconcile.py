"""The reconciler: a dead worker's deployments are queued again in seconds, a live one's are not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conftest import launch_lambda
from deployments import engine, liveness
from deployments.models import Deployment, DeploymentStep


@pytest.fixture
def running(personas, aws_emulator):
    """A claimed deployment with one step in flight, quiet for 15 s."""
    deployment = launch_lambda(personas, "quiet")
    assert engine.deployment_claim(deployment_id=deployment.pk)
    DeploymentStep.objects.create(deployment=deployment, name="Create Lambda function quiet-dev")
    quiet = timezone.now() - timedelta(seconds=15)
    Deployment.objects.filter(pk=deployment.pk).update(heartbeat_at=quiet)
    return deployment


def test_a_dead_workers_deployment_is_requeued_and_its_step_interrupted(running, settings):
    settings.DEPLOY_DEAD_WORKER_SECONDS = 10
    Deployment.objects.filter(pk=running.pk).update(worker="gone-host:4242")

    assert engine.deployments_reconcile() == [running.pk]

    running.refresh_from_db()
    assert running.status == Deployment.Status.QUEUED and running.lease is None
    step = running.steps.get()
    assert step.status == DeploymentStep.Status.INTERRUPTED
    assert step.finished_at is not None
    assert "gone-host:4242 stopped during this step" in step.message


def test_a_live_worker_inside_a_long_call_keeps_its_deployment(running, settings):
    # This process claimed it, so its liveness key is fresh: 15 s of quiet is a long AWS call.
    settings.DEPLOY_DEAD_WORKER_SECONDS = 10
    assert liveness.worker_name() in liveness.alive({liveness.worker_name()})

    assert engine.deployments_reconcile() == []
    running.refresh_from_db()
    assert running.status == Deployment.Status.RUNNING
    assert running.steps.get().status == DeploymentStep.Status.RUNNING


def test_a_hung_live_worker_loses_its_deployment_after_the_stale_window(running, settings):
    settings.DEPLOY_STALE_SECONDS = 10
    assert engine.deployments_reconcile() == [running.pk]
    assert running.steps.get().status == DeploymentStep.Status.INTERRUPTED
