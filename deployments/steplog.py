"""The deployment's step log: the lines a user reads live, each written as it happens.

A step is written when it starts (`running`) and again when it ends (`ok` or `failed`, with
AWS's error text and request ids); a note is a finished line written once. Every write tells
the live log (deployments/live.py).
"""

from __future__ import annotations

import contextlib

from django.utils import timezone

from deployments import live
from deployments.models import Deployment, DeploymentStep
from portal.aws import collect_request_ids, error_message, request_id


@contextlib.contextmanager
def step(deployment: Deployment, name: str):
    """Log a step as running, then ok or failed (with AWS's error text and request id)."""
    step = DeploymentStep.objects.create(deployment=deployment, name=name)
    live.deployment_changed(deployment.pk)
    try:
        with collect_request_ids() as ids:
            yield step
    except BaseException as exc:
        step.status = DeploymentStep.Status.FAILED
        step.message = error_message(exc)
        step.aws_request_id = request_id(exc) or join_ids(ids)
        step.finished_at = timezone.now()
        step.save()
        live.deployment_changed(deployment.pk)
        raise
    step.status = DeploymentStep.Status.OK
    step.aws_request_id = join_ids(ids)
    step.finished_at = timezone.now()
    step.save()
    live.deployment_changed(deployment.pk)


def join_ids(ids: list[str]) -> str:
    """As many request ids as fit the column, newest last (the one that did the change)."""
    kept: list[str] = []
    for rid in reversed(ids):
        if len(" ".join([rid, *kept])) > 100:
            break
        kept.insert(0, rid)
    return " ".join(kept)


def note(
    deployment: Deployment,
    name: str,
    message: str = "",
    status: str = DeploymentStep.Status.INFO,
) -> None:
    """A finished line in the log, written once (one INSERT, no running state to update)."""
    now = timezone.now()
    DeploymentStep.objects.create(
        deployment=deployment,
        name=name,
        message=message,
        status=status,
        finished_at=now,
    )
    live.deployment_changed(deployment.pk)


def finish(step: DeploymentStep, status: str, message: str) -> None:
    step.status = status
    step.message = message
    step.finished_at = timezone.now()
    step.save()
    live.deployment_changed(step.deployment_id)
