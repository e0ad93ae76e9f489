"""The deployment engine: moves a claimed Deployment row forward, one idempotent step at a time.

Celery tasks call these functions and only decide what to enqueue next from the `Outcome`.
The row is the source of truth: each function first checks that its lease still holds, so a
task from a worker that was presumed dead cannot touch a deployment someone else now runs.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.services import audit_record
from catalog import services as catalog_services
from catalog.models import ServiceInstance
from costs.services import instance_cost_store
from deployments import live, liveness, observations, provisioners, steplog
from deployments.errors import DeploymentError
from deployments.events import deployment_event_record
from deployments.models import CodeArtifact, Deployment, DeploymentStep
from deployments.provisioners.base import Context, Observed, Provisioner
from deployments.upkeep import (  # noqa: F401 — beat's jobs, re-exported for their callers
    deployments_reconcile,
    instances_check_drift,
)
from portal import ratelimit
from portal.aws import error_message, is_transient

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Outcome:
    """What the task should do next."""

    WAIT = "wait"  # check stability again after a pause
    RETRY = "retry"  # run the whole (idempotent) apply again after `countdown`
    PARK = "park"  # resume the apply after `countdown` (a rate-limit token), lease kept
    DONE = "done"  # finished, or not ours any more

    kind: str
    countdown: float = 0.0


def deployment_claim(*, deployment_id: int) -> uuid.UUID | None:
    """Take a queued deployment (queued → running). None if another worker already has it."""
    lease = uuid.uuid4()
    now = timezone.now()
    claimed = Deployment.objects.filter(pk=deployment_id, status=Deployment.Status.QUEUED).update(
        status=Deployment.Status.RUNNING,
        lease=lease,
        started_at=Coalesce(F("started_at"), now),
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        worker=liveness.beating_name(),
    )
    # Neither the live log nor the "started" event is told here: deployment_execute's first
    # line in the step log (written before any AWS call) pushes the new status with it, and
    # it records the event from the row it loads anyway.
    return lease if claimed else None


def _load(deployment_id: int, lease: uuid.UUID) -> Deployment | None:
    """The running row with all a run and its events read (one SELECT), if the lease holds."""
    found = list(
        Deployment.objects.select_related(
            "instance__service__owner", "instance__environment", "requested_by", "approved_by"
        ).filter(pk=deployment_id, status=Deployment.Status.RUNNING, lease=lease)
    )
    return found[0] if found else None


def _heartbeat(deployment: Deployment, *, unless_fresh: bool = False) -> bool:
    """Refresh the heartbeat; False if the lease was lost (the reconciler gave the row away).

    With `unless_fresh`, a heartbeat written less than a third of DEPLOY_DEAD_WORKER_SECONDS
    ago is kept without a write: the reconciler takes a row only after that long in silence,
    so the lease cannot have been lost since (one UPDATE fewer per step of a quick run).
    """
    now = timezone.now()
    fresh = timedelta(seconds=settings.DEPLOY_DEAD_WORKER_SECONDS / 3)
    if unless_fresh and deployment.heartbeat_at and now - deployment.heartbeat_at < fresh:
        return True
    beat = Deployment.objects.filter(pk=deployment.pk, lease=deployment.lease).update(
        heartbeat_at=now, worker=liveness.beating_name()
    )
    deployment.heartbeat_at = now
    return bool(beat)


def _context(deployment: Deployment, spec: dict) -> Context:
    instance = deployment.instance

    def record_resource(role: str, arn: str) -> None:
        # Stored at once, outside any transaction, so a retry after a crash adopts the resource.
        if instance.resources.get(role) != arn:
            instance.resources[role] = arn
            ServiceInstance.objects.filter(pk=instance.pk).update(resources=instance.resources)

    def forget_resource(role: str) -> None:
        if role in instance.resources:
            del instance.resources[role]
            ServiceInstance.objects.filter(pk=instance.pk).update(resources=instance.resources)

    def artifact_loader(sha256: str) -> bytes:
        return bytes(CodeArtifact.objects.values_list("content", flat=True).get(sha256=sha256))

    return Context(
        instance=instance,
        spec=spec,
        actor=deployment.requested_by.get_username(),
        record_resource=record_resource,
        artifact_loader=artifact_loader,
        forget_resource=forget_resource,
    )


def _apply_spec(deployment: Deployment, spec: dict, label: str = "") -> Observed:
    """Observe, plan and apply `spec` (or the teardown), one logged step per change.

    Returns the run's observation as the steps left it (each notes what it created), so the
    first stability check need not read again what this run has just written."""
    provisioner = provisioners.for_kind(deployment.instance.service.kind)
    ctx = _context(deployment, spec)
    # A rollback always reads AWS: this run has changed it since the plan.
    reused = (
        None
        if label
        else observations.recall(deployment_id=deployment.pk, attempt=deployment.attempts)
    )
    # Lines with no AWS call between them are written together (steplog's module docstring):
    # `notes` and `pending` (a step's end) wait for the next step's start, or the `finally`.
    notes: list[steplog.Note] = []
    pending: steplog.Finish | None = None
    if reused:
        observed, age = reused
        notes.append(
            steplog.Note(
                "Read current state from AWS",
                f"Using the plan's reading from {age:.0f} s ago (nothing changed through Slipway).",
                DeploymentStep.Status.OK,
            )
        )
    else:
        with steplog.step(
            deployment, f"{label}Read current state from AWS", defer_finish=True
        ) as read:
            observed = provisioner.observe(ctx)
        pending = read.finish
    try:
        ctx.observed = observed
        _adopt(ctx, provisioner, observed)
        if _is_delete(deployment) and not label:
            changes = provisioner.plan_delete(observed)
        else:
            changes = provisioner.plan(spec, observed)
        if not changes:
            notes.append(steplog.Note(f"{label}Nothing to change", "AWS already matches the spec."))
        for change in changes:
            with steplog.step(
                deployment,
                label + change.summary,
                notes=notes,
                finishing=pending,
                defer_finish=True,
            ) as step:
                notes, pending = [], None  # written by the step's start
                step.message = provisioner.apply(ctx, change)
            pending = step.finish
            if not _heartbeat(deployment, unless_fresh=True):
                raise LeaseLost()
        if _is_delete(deployment) and not label:
            carried, notes, pending = (notes, pending), [], None
            _delete_alarms(deployment, *carried)
    finally:
        steplog.flush(deployment, pending, notes)  # what no step start wrote
    return observed


def _delete_alarms(
    deployment: Deployment, notes: list[steplog.Note], finishing: steplog.Finish | None
) -> None:
    """The instance's CloudWatch alarms go with it (a logged step; a failure fails the run)."""
    from monitoring.services import alarms_delete

    with steplog.step(
        deployment, "Delete CloudWatch alarms", notes=notes, finishing=finishing
    ) as step:
        deleted = alarms_delete(
            instance=deployment.instance, actor=deployment.requested_by.get_username()
        )
        step.message = ", ".join(deleted) or "none in CloudWatch"


def _adopt(ctx: Context, provisioner: Provisioner, observed: Observed) -> None:
    """Record every resource of the instance's own that AWS already holds, so an interrupted
    run's resources are adopted by the next one instead of being forgotten or duplicated.
    Shared resources (the environment's role, cluster, load balancer) are never recorded."""
    for resource in provisioner.owned_resources(observed):
        ctx.record_resource(resource.role, resource.arn)


def _is_delete(deployment: Deployment) -> bool:
    return deployment.action == Deployment.Action.DELETE


DONE = Outcome(Outcome.DONE)


class LeaseLost(Exception):
    """Another worker now owns the deployment; stop quietly."""


def deployment_execute(*, deployment_id: int, lease: uuid.UUID) -> Outcome:
    """Apply the deployment's spec, then hand over to the stability checks.

    A call whose rate-limit token is more than AWS_RATE_LIMIT_PARK_AFTER away parks the
    deployment instead of sleeping in this thread (`_park`); `deployment_unpark` and this
    function again finish it: the apply is idempotent (it reads AWS and adopts what the parked
    run made), and the reserved token is spent by the same call on the way back."""
    deployment = _load(deployment_id, lease)
    if deployment is None:
        return Outcome(Outcome.DONE)
    # Recorded once per deployment, however many times a retry claims it again; from the row
    # just loaded (the event's payload needs no read of its own).
    deployment_event_record(
        deployment_id=deployment_id, type="deployment.started", deployment=deployment
    )
    try:
        with ratelimit.parking(owner=f"deployment-{deployment.pk}"):
            observed = _apply_spec(deployment, deployment.spec)
    except LeaseLost:
        return Outcome(Outcome.DONE)
    except ratelimit.RateLimited as parked:
        return _park(deployment, parked)
    except Exception as exc:  # noqa: BLE001 — every AWS or code error ends in a recorded state
        return _on_error(deployment, exc)
    # Check once straight away, with the row and observation in hand: many changes are stable
    # at once, and this saves a task hop and the reads a fresh check would make. The wait's
    # step and start time are written only when it has to wait (one line and no UPDATE when
    # it is stable at once; finishing is conditional on the lease either way).
    return _check(deployment, None, observed, first=True)


def _park(deployment: Deployment, parked: ratelimit.RateLimited) -> Outcome:
    """Free the thread until the token is due: the row stays running under its lease, and its
    heartbeat vouches for it until then (the reconciler takes a row only once its heartbeat is
    DEPLOY_DEAD_WORKER_SECONDS old), in one conditional UPDATE. The resume comes a moment early
    and sleeps the rest, so the call leaves when its token is due, as if it had waited."""
    due = timezone.now() + timedelta(seconds=parked.wait)
    if not Deployment.objects.filter(pk=deployment.pk, lease=deployment.lease).update(
        heartbeat_at=due, worker=liveness.beating_name()
    ):
        return DONE
    steplog.note(
        deployment,
        f"Waiting for AWS rate limit ({ratelimit.group_label(parked.group)}), "
        f"resumes in ~{math.ceil(parked.wait)} s",
        "Slipway keeps to AWS's documented rate for these calls; the token is reserved for "
        "this deployment, and no worker is held meanwhile.",
    )
    resume_in = max(0.0, parked.wait - settings.AWS_RATE_LIMIT_PARK_AFTER / 2)
    return Outcome(Outcome.PARK, countdown=resume_in)


def deployment_unpark(*, deployment_id: int, lease: uuid.UUID) -> uuid.UUID | None:
    """Take a parked deployment back (a new lease, in one conditional UPDATE), to apply again.
    None if it is not parked under `lease` any more: a second delivery, or the reconciler gave
    it away (its worker died)."""
    fresh = uuid.uuid4()
    taken = Deployment.objects.filter(
        pk=deployment_id, status=Deployment.Status.RUNNING, lease=lease
    ).update(lease=fresh, heartbeat_at=timezone.now(), worker=liveness.beating_name())
    return fresh if taken else None


WAIT_STEP = "Wait until AWS reports it stable"


def _start_waiting(deployment: Deployment, detail: str) -> DeploymentStep | None:
    """The first check found it not stable yet: note when the wait began, and a running line.
    None when the lease was lost meanwhile."""
    now = timezone.now()
    if not Deployment.objects.filter(pk=deployment.pk, lease=deployment.lease).update(
        wait_started_at=now, heartbeat_at=now
    ):
        return None
    deployment.wait_started_at = deployment.heartbeat_at = now
    waiting = DeploymentStep.objects.create(deployment=deployment, name=WAIT_STEP, message=detail)
    live.deployment_changed(deployment.pk)
    return waiting


def deployment_check(*, deployment_id: int, lease: uuid.UUID) -> Outcome:
    """One stability check: finish, fail (and roll back), or ask to be called again."""
    deployment = _load(deployment_id, lease)
    if deployment is None or not _heartbeat(deployment):
        return Outcome(Outcome.DONE)
    waiting = deployment.steps.filter(status=DeploymentStep.Status.RUNNING).last()
    return _check(deployment, waiting, None)


def _check(
    deployment: Deployment,
    waiting: DeploymentStep | None,
    observed: Observed | None,
    first: bool = False,
) -> Outcome:
    """The stability check itself; `observed` is the run's own observation, when in hand.
    `first`: the check right after the apply, before the wait's step is written."""
    provisioner = provisioners.for_kind(deployment.instance.service.kind)
    wait = provisioner.wait_deleted if _is_delete(deployment) else provisioner.wait
    ctx = _context(deployment, deployment.spec)
    ctx.observed = observed
    try:
        result = wait(ctx)
    except Exception as exc:  # noqa: BLE001
        return _on_error(deployment, exc)
    if result.done:
        # The wait's line is written with the alarms step's start, and the alarms step's end
        # in the transaction that marks the success (no AWS call between either).
        notes: list[steplog.Note] = []
        finishing = None
        if waiting:
            finishing = steplog.ending(waiting, DeploymentStep.Status.OK, result.detail)
        elif first:
            notes.append(steplog.Note(WAIT_STEP, result.detail, DeploymentStep.Status.OK))
        if not _is_delete(deployment):
            finishing, notes = _ensure_alarms(deployment, notes, finishing), []
        _succeed(deployment, notes, finishing)
        return Outcome(Outcome.DONE)
    waited = timezone.now() - (deployment.wait_started_at or timezone.now())
    error = result.error
    if not error and waited > timedelta(seconds=settings.DEPLOY_WAIT_TIMEOUT_SECONDS):
        error = f"Not stable after {int(waited.total_seconds())} s ({result.detail})"
    if error:
        if waiting:
            steplog.finish(waiting, DeploymentStep.Status.FAILED, error)
        elif first:
            steplog.note(deployment, WAIT_STEP, error, status=DeploymentStep.Status.FAILED)
        _fail(deployment, error)
        return Outcome(Outcome.DONE)
    if first:
        return Outcome(Outcome.WAIT) if _start_waiting(deployment, result.detail) else DONE
    if waiting and waiting.message != result.detail:
        waiting.message = result.detail
        waiting.save(update_fields=["message"])
        live.deployment_changed(deployment.pk)
    return Outcome(Outcome.WAIT)


def _ensure_alarms(
    deployment: Deployment, notes: list[steplog.Note], finishing: steplog.Finish | None
) -> steplog.Finish | None:
    """Create or update the kind's default alarms, as a logged step (its start also writes
    `notes` and `finishing`, the wait's line). Returns the step's end, for `_succeed` to write.

    A failure here is shown in the log but does not undo a deployment that AWS accepted.
    """
    from monitoring.services import alarms_apply_defaults

    try:
        with steplog.step(
            deployment,
            "Ensure default CloudWatch alarms",
            notes=notes,
            finishing=finishing,
            defer_finish=True,
        ) as step:
            # For what this deployment applied (a first one has no applied spec yet).
            step.message = alarms_apply_defaults(
                instance=deployment.instance,
                actor=deployment.requested_by.get_username(),
                spec=deployment.spec,
            ).summary
    except Exception:  # noqa: BLE001 — recorded on the step by steplog.step
        log.warning("Default alarms for deployment %s failed", deployment.pk, exc_info=True)
        return None
    return step.finish


def _on_error(deployment: Deployment, exc: BaseException) -> Outcome:
    """Transient errors: release the row and retry later (bounded). Others: fail/roll back."""
    transient = is_transient(exc) or isinstance(exc, SoftTimeLimitExceeded)
    if transient and deployment.attempts < MAX_ATTEMPTS:
        countdown = min(2**deployment.attempts, 60)
        released = Deployment.objects.filter(pk=deployment.pk, lease=deployment.lease).update(
            status=Deployment.Status.QUEUED, lease=None
        )
        if released:
            steplog.note(
                deployment,
                f"Temporary AWS error; retrying in {countdown} s",
                error_message(exc),
            )
            return Outcome(Outcome.RETRY, countdown=countdown)
        return Outcome(Outcome.DONE)
    if isinstance(exc, DeploymentError):  # a refusal already worded for the user
        _fail(deployment, str(exc))
        return Outcome(Outcome.DONE)
    if not isinstance(exc, Exception) or not _is_aws_error(exc):
        log.exception("Deployment %s failed with an unexpected error", deployment.pk)
    _fail(deployment, error_message(exc))
    return Outcome(Outcome.DONE)


def _is_aws_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("botocore")


def _fail(deployment: Deployment, error: str) -> None:
    """Record the failure; restore the previous spec when there is one (→ rolled_back)."""
    status = Deployment.Status.FAILED
    instance_status = ServiceInstance.Status.FAILED
    if deployment.previous_spec and deployment.action != Deployment.Action.DELETE:
        try:
            _apply_spec(deployment, deployment.previous_spec, label="Rollback: ")
            status = Deployment.Status.ROLLED_BACK
            instance_status = ServiceInstance.Status.HEALTHY
        except Exception as rollback_exc:  # noqa: BLE001
            error = f"{error}\nRollback failed too: {error_message(rollback_exc)}"
    with transaction.atomic():
        updated = Deployment.objects.filter(pk=deployment.pk, lease=deployment.lease).update(
            status=status, error=error, finished_at=timezone.now(), lease=None
        )
        if updated:
            ServiceInstance.objects.filter(pk=deployment.instance_id).update(status=instance_status)
            _audit_finish(deployment, status, error)
            live.deployment_changed(deployment.pk)  # sent when the transaction commits
            deployment.status, deployment.error = status, error  # as the row now says
            deployment_event_record(
                deployment_id=deployment.pk, type=f"deployment.{status}", deployment=deployment
            )


def _succeed(
    deployment: Deployment,
    notes: list[steplog.Note] | None = None,
    finishing: steplog.Finish | None = None,
) -> None:
    """Mark success; the instance now holds the applied spec (or nothing, after a delete).
    `notes` and `finishing` (the run's last lines) are written in the same transaction, first,
    so the audit row counts their request ids and the page gets one message for all."""
    if _is_delete(deployment):
        instance_fields = {
            "applied_spec": None,
            "resources": {},
            "status": ServiceInstance.Status.DELETED,
        }
    else:
        instance_fields = {
            "applied_spec": deployment.spec,
            "status": ServiceInstance.Status.HEALTHY,
        }
    with transaction.atomic():
        wrote = steplog.flush(deployment, finishing, notes or (), tell=False)
        updated = Deployment.objects.filter(pk=deployment.pk, lease=deployment.lease).update(
            status=Deployment.Status.SUCCEEDED, finished_at=timezone.now(), lease=None
        )
        if updated:
            ServiceInstance.objects.filter(pk=deployment.instance_id).update(**instance_fields)
            _audit_finish(deployment, Deployment.Status.SUCCEEDED, "")
            # Tables a service uses are dependencies in the catalog, on both services' pages
            # (re-derived only when this deployment's specs name any: 3 queries saved if not).
            if _links_services(deployment.spec) or _links_services(deployment.previous_spec):
                catalog_services.service_table_uses_sync(service=deployment.instance.service)
            deployment.status = Deployment.Status.SUCCEEDED  # as the row now says
            deployment_event_record(
                deployment_id=deployment.pk, type="deployment.succeeded", deployment=deployment
            )
        if updated or wrote:
            live.deployment_changed(deployment.pk)  # once, when the transaction commits
    if updated:
        # The catalog sorts and sums by the applied spec's estimate (no AWS call here).
        instance_cost_store(instance=deployment.instance, spec=instance_fields["applied_spec"])


def _links_services(spec: dict | None) -> bool:
    """Whether a spec names other catalog services (tables, queues or topics it uses)."""
    return bool(spec and (spec.get("tables") or spec.get("queues") or spec.get("topics")))


def _audit_finish(deployment: Deployment, status: str, error: str) -> None:
    """The system's audit row for the outcome, with every AWS request id the steps made."""
    ids = [
        rid
        for joined in deployment.steps.values_list("aws_request_id", flat=True)
        for rid in joined.split()
    ]
    audit_record(
        actor=None,
        action=f"deployment.{status}",
        target=deployment,
        environment=deployment.instance.environment,
        before=deployment.previous_spec,
        after=deployment.spec if status == Deployment.Status.SUCCEEDED else {"error": error},
        aws_request_ids=ids,
        result="ok" if status == Deployment.Status.SUCCEEDED else "failed",
        source="system",
    )
