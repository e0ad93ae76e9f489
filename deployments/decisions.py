"""Decisions on a planned deployment: confirm, approve, reject, cancel, expire.

Each is one conditional UPDATE (`WHERE status IN (...)`, the table of who may do what from
where is deployments/transitions.py) under the instance's row lock, an audit row and the
deployment event it publishes; of several concurrent requests exactly one wins, and the others
write nothing and are told what the row is now. Callers use them through deployments.services.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.utils import timezone

from audit.services import audit_record
from catalog.models import Service, ServiceInstance
from deployments import transitions
from deployments.errors import DeploymentConflict, DeploymentError
from deployments.events import deployment_event_record
from deployments.models import Deployment
from deployments.transitions import Transition


def deployment_audit(deployment: Deployment, user, action: str, source: str, **extra) -> None:
    audit_record(
        actor=user,
        action=action,
        target=deployment,
        environment=deployment.instance.environment,
        before=extra.get("before", deployment.previous_spec),
        after=extra.get("after", {"status": deployment.status}),
        source=source,
    )


def _enqueue(deployment: Deployment) -> None:
    from deployments.tasks import run_deployment

    transaction.on_commit(lambda: run_deployment.delay(deployment.pk))


def _lock_instance(instance: ServiceInstance) -> ServiceInstance:
    """Lock the instance row until commit: transitions of one instance's deployments take turns,
    so the instance status they set follows the order their UPDATEs won in."""
    return (
        ServiceInstance.objects.select_for_update()
        .only("pk", "status", "applied_spec")
        .get(pk=instance.pk)
    )


# The deployment event each transition publishes (see docs/deployment-events.md).
TRANSITION_EVENTS = {
    "confirm": "deployment.requested",
    "approve": "deployment.approved",
    "reject": "deployment.cancelled",
    "cancel": "deployment.cancelled",
    "expire": "deployment.cancelled",
}


def _move(
    deployment: Deployment,
    transition: Transition,
    *,
    to: str,
    when: Q | None = None,
    new: bool = False,
    **fields,
) -> bool:
    """The transition's one conditional UPDATE; True when this call won it.

    `WHERE status IN (transition.sources)`: of several concurrent requests exactly one updates
    the row; the others update nothing and must write nothing. `new`: the row was inserted in
    the caller's still open transaction (its event is the deployment's first).
    """
    if to not in transition.targets:
        raise ValueError(f"{transition.action} cannot lead to {to}")
    won = Deployment.objects.filter(
        when or Q(), pk=deployment.pk, status__in=transition.sources
    ).update(status=to, **fields)
    if won:
        # The row is what this UPDATE wrote: set the same fields here instead of reading it
        # back (and the instance, environment and service with it, for the audit row).
        deployment.status = to
        for name, value in fields.items():
            setattr(deployment, name, value)
        # Published to the environment's SNS topic after commit (deployments/events.py).
        event = TRANSITION_EVENTS.get(transition.action)
        if event:
            deployment_event_record(
                deployment_id=deployment.pk,
                type=event,
                deployment=_if_loaded(deployment),
                first=new,
            )
    return bool(won)


def _if_loaded(deployment: Deployment) -> Deployment | None:
    """The row when everything its event names is in memory already (a launch holds it all);
    None to let the event read it with one join instead of several lazy loads."""
    instance = deployment.instance
    loaded = (
        Deployment.requested_by.is_cached(deployment)
        and (deployment.approved_by_id is None or Deployment.approved_by.is_cached(deployment))
        and ServiceInstance.service.is_cached(instance)
        and ServiceInstance.environment.is_cached(instance)
        and Service.owner.is_cached(instance.service)
    )
    return deployment if loaded else None


def _too_late(deployment: Deployment, transition: Transition) -> DeploymentError:
    """The loser's message: what the row is now."""
    deployment.refresh_from_db()
    return DeploymentError(
        f"Too late: this deployment is {deployment.get_status_display().lower()} now, "
        f"so it can no longer be {transition.done}."
    )


def _start(deployment: Deployment) -> None:
    """The winner of confirm/approve (inside its transaction): the instance is deploying, and a
    worker is asked to run it once the transaction commits."""
    ServiceInstance.objects.filter(pk=deployment.instance_id).update(
        status=ServiceInstance.Status.DEPLOYING
    )
    deployment.instance.status = ServiceInstance.Status.DEPLOYING
    _enqueue(deployment)


def deployment_confirm(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """The requester confirms the plan: queue it, or wait for approval where required."""
    transitions.CONFIRM.check_user(deployment, user)
    return confirm_checked(deployment, user, source)


def confirmed(environment) -> tuple[str, dict]:
    """What confirming a plan for `environment` leads to: the status (queued, or awaiting
    approval where a second person must approve) and the fields set with it."""
    if not environment.requires_approval:
        return Deployment.Status.QUEUED, {}
    hours = timedelta(hours=settings.APPROVAL_EXPIRY_HOURS)
    return Deployment.Status.AWAITING_APPROVAL, {"approval_expires_at": timezone.now() + hours}


def confirm_checked(
    deployment: Deployment,
    user: AbstractBaseUser,
    source: str,
    *,
    planned_now: bool = False,
    savepoint: bool = True,
) -> Deployment:
    """Confirm a plan whose user has been checked. `planned_now`: the deployment was inserted
    in the caller's still open transaction, so its event is its first and nobody else's.
    `savepoint=False` inside a caller's transaction that ends with this call (a conflict
    rolls all of it back anyway)."""
    instance = deployment.instance
    to, fields = confirmed(instance.environment)
    try:
        with transaction.atomic(savepoint=savepoint):
            stale = _lock_instance(instance).applied_spec != deployment.previous_spec
            won = not stale and _move(
                deployment, transitions.CONFIRM, to=to, new=planned_now, **fields
            )
            if won:
                if to == Deployment.Status.QUEUED:
                    _start(deployment)
                deployment_audit(
                    deployment, user, f"deployment.{deployment.action}.confirm", source
                )
    except IntegrityError as exc:  # one_active_deployment_per_instance
        raise DeploymentConflict(
            f"A deployment of {instance.service.slug} to {instance.environment.name} is "
            "already in progress; wait for it to finish."
        ) from exc
    if not won:
        refusal = _too_late(deployment, transitions.CONFIRM)
        if stale and deployment.status == Deployment.Status.PLANNED:
            raise DeploymentError("The service changed since this plan was made; plan it again.")
        raise refusal
    return deployment


def confirm_launched(deployment: Deployment, user: AbstractBaseUser, source: str) -> Deployment:
    """The confirmation of a launch's first deployment, which the caller inserted already
    confirmed (`confirmed()`), with its new instance already `deploying` when queued, in its
    still open transaction: nobody else can see, lock or change either row, so there is no
    transition to win. What a confirmation does besides: the "requested" event (the
    deployment's first), the worker asked after commit, the audit row."""
    if deployment.status not in transitions.CONFIRM.targets:
        raise ValueError(f"confirm cannot lead to {deployment.status}")
    deployment_event_record(
        deployment_id=deployment.pk,
        type=TRANSITION_EVENTS["confirm"],
        deployment=_if_loaded(deployment),
        first=True,
    )
    if deployment.status == Deployment.Status.QUEUED:
        _enqueue(deployment)
    deployment_audit(deployment, user, f"deployment.{deployment.action}.confirm", source)
    return deployment


def deployment_approve(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """A second member of the owner team approves; the requester never can."""
    transitions.APPROVE.check_user(deployment, user)
    now = timezone.now()
    not_expired = Q(approval_expires_at__isnull=True) | Q(approval_expires_at__gte=now)
    with transaction.atomic():
        _lock_instance(deployment.instance)
        won = _move(
            deployment,
            transitions.APPROVE,
            to=Deployment.Status.QUEUED,
            when=not_expired,
            approved_by=user,
        )
        if won:
            _start(deployment)
            deployment_audit(deployment, user, "deployment.approve", source)
    if won:
        return deployment
    refusal = _too_late(deployment, transitions.APPROVE)
    if deployment.status == Deployment.Status.AWAITING_APPROVAL:  # still waiting: it expired
        with contextlib.suppress(DeploymentError):  # unless someone else expired it first
            deployment_expire(deployment=deployment)
        raise DeploymentError("This approval request has expired; plan the change again.")
    raise refusal


def deployment_reject(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """A teammate turns down a change that awaits approval."""
    transitions.REJECT.check_user(deployment, user)
    return _cancel(
        deployment, transitions.REJECT, user, source, f"Rejected by {user.get_username()}."
    )


def deployment_cancel(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """Withdraw a change before a worker picks it up (a worker that claims it first wins)."""
    transitions.CANCEL.check_user(deployment, user)
    return _cancel(
        deployment, transitions.CANCEL, user, source, f"Cancelled by {user.get_username()}."
    )


def deployment_expire(*, deployment: Deployment) -> Deployment:
    """Slipway cancels an approval request nobody decided on before it expired."""
    return _cancel(
        deployment,
        transitions.EXPIRE,
        None,
        "system",
        "Approval expired before anyone approved it.",
        when=Q(approval_expires_at__lt=timezone.now()),
    )


def _cancel(
    deployment: Deployment,
    transition: Transition,
    actor,
    source: str,
    reason: str,
    when: Q | None = None,
) -> Deployment:
    with transaction.atomic():
        _lock_instance(deployment.instance)
        won = _move(
            deployment,
            transition,
            to=Deployment.Status.CANCELLED,
            when=when,
            error=reason,
            finished_at=timezone.now(),
        )
        if won:
            _restore_instance_status(deployment.instance)
            deployment_audit(deployment, actor, f"deployment.{transition.action}", source)
    if not won:
        raise _too_late(deployment, transition)
    return deployment


def _restore_instance_status(instance: ServiceInstance) -> None:
    """After a cancel (the caller holds the instance lock): `deploying` goes back to what the
    applied spec says, unless another deployment of the instance is active."""
    active = Deployment.objects.filter(instance=OuterRef("pk"), status__in=Deployment.ACTIVE)
    ServiceInstance.objects.filter(pk=instance.pk, status=ServiceInstance.Status.DEPLOYING).exclude(
        Exists(active)
    ).update(
        status=Case(
            When(applied_spec__isnull=True, then=Value(ServiceInstance.Status.NOT_DEPLOYED)),
            default=Value(ServiceInstance.Status.HEALTHY),
        )
    )


def deployments_expire_approvals() -> int:
    """Beat: approval requests past their expiry are cancelled. Returns how many."""
    expired = Deployment.objects.filter(
        status=Deployment.Status.AWAITING_APPROVAL, approval_expires_at__lt=timezone.now()
    ).select_related("instance__environment")
    count = 0
    for deployment in expired:
        with contextlib.suppress(DeploymentError):  # approved, rejected or expired meanwhile
            deployment_expire(deployment=deployment)
            count += 1
    return count
