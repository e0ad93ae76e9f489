"""Celery tasks: take primary keys, call the engine, enqueue what comes next. No logic here."""

import uuid

from celery import shared_task
from django.conf import settings

from deployments import engine, services

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


def _follow(deployment_id: int, lease: uuid.UUID, outcome: engine.Outcome) -> None:
    if outcome.kind == engine.Outcome.WAIT:
        check_deployment.apply_async(
            (deployment_id, str(lease)), countdown=settings.DEPLOY_POLL_SECONDS
        )
    elif outcome.kind == engine.Outcome.RETRY:
        run_deployment.apply_async((deployment_id,), countdown=outcome.countdown)
    elif outcome.kind == engine.Outcome.PARK:
        resume_deployment.apply_async((deployment_id, str(lease)), countdown=outcome.countdown)


@shared_task(**TASK_OPTIONS)
def run_deployment(deployment_id: int) -> None:
    """Claim a queued deployment and apply it. A second delivery finds it claimed and returns."""
    lease = engine.deployment_claim(deployment_id=deployment_id)
    if lease is None:
        return
    _follow(
        deployment_id, lease, engine.deployment_execute(deployment_id=deployment_id, lease=lease)
    )


@shared_task(**TASK_OPTIONS)
def resume_deployment(deployment_id: int, lease: str) -> None:
    """Apply a parked deployment again once its rate-limit token is due (no thread held while
    it waited). A second delivery finds the lease moved on and returns."""
    fresh = engine.deployment_unpark(deployment_id=deployment_id, lease=uuid.UUID(lease))
    if fresh is None:
        return
    _follow(
        deployment_id, fresh, engine.deployment_execute(deployment_id=deployment_id, lease=fresh)
    )


@shared_task(**TASK_OPTIONS)
def check_deployment(deployment_id: int, lease: str) -> None:
    """Check stability once; re-scheduled until the deployment is finished."""
    lease_id = uuid.UUID(lease)
    _follow(
        deployment_id,
        lease_id,
        engine.deployment_check(deployment_id=deployment_id, lease=lease_id),
    )


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def reconcile_deployments() -> None:
    """Beat: re-enqueue deployments whose worker died or whose message was lost."""
    for deployment_id in engine.deployments_reconcile():
        run_deployment.delay(deployment_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def expire_approvals() -> None:
    """Beat: cancel approval requests nobody decided on in time."""
    services.deployments_expire_approvals()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=240, time_limit=300)
def check_drift() -> None:
    """Beat: flag instances whose AWS resources no longer match their applied spec."""
    engine.instances_check_drift()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def publish_deployment_events(deployment_id: int) -> None:
    """Publish a deployment's pending events to its environment's SNS topic, in order.

    Never touches the deployment itself; a failure is recorded on the event and retried later.
    """
    from deployments import events

    result = events.deployment_events_publish(deployment_id=deployment_id)
    if result.retry_in is not None:
        publish_deployment_events.apply_async((deployment_id,), countdown=result.retry_in)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def sweep_deployment_events() -> None:
    """Beat: publish events whose publishing message was lost (a worker died, Redis restarted)."""
    from deployments import events

    for deployment_id in events.deployment_events_stale():
        publish_deployment_events.delay(deployment_id)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=120, time_limit=180)
def revert_timed_scales() -> None:
    """Beat: plan the reverts of timed scale-ups whose time has come (deployments/timed.py)."""
    from deployments import timed

    timed.timed_reverts_run_due()
