"""Writes for deployments: plan, confirm, approve, reject, cancel, revert; launch a service.

The flow a user sees: a form's spec is *planned* (AWS is read, the diff stored on a `planned`
row and shown), then *confirmed* (→ `queued`, or `awaiting_approval` where the environment
requires a second person), then a worker runs it. Every function checks who may do it.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.utils import timezone

from audit.services import audit_record
from catalog import services as catalog_services
from catalog.models import Environment, Service, ServiceInstance, Team
from deployments import guardrails, kinds, observations, selectors, transitions
from deployments.errors import (  # noqa: F401 — re-exported: callers catch them from here
    DeploymentConflict,
    DeploymentError,
    NothingToChange,
    PlanFailed,
    RoutedTo,
)
from deployments.events import deployment_event_record
from deployments.models import CodeArtifact, Deployment
from deployments.provisioners.base import Change, Context, Observed
from deployments.transitions import Transition
from portal.aws import error_message


def code_artifact_store(*, content: bytes) -> CodeArtifact:
    """Keep a deployment package once per content hash."""
    sha = CodeArtifact.digest(content)
    artifact, _ = CodeArtifact.objects.get_or_create(
        sha256=sha, defaults={"content": content, "size": len(content)}
    )
    return artifact


def _require_owner(instance: ServiceInstance, user: AbstractBaseUser) -> None:
    if not instance.service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")


def _plan_changes(
    *, instance: ServiceInstance, spec: dict, user, action: str
) -> tuple[list[Change], Observed]:
    """Read AWS and compute the diff (in the web process, as the acting user); returns the diff
    and what AWS held, which the deployment's first run applies against."""
    provisioner = kinds.get(instance.service.kind).provisioner
    ctx = Context.read_only(instance=instance, spec=spec, actor=user.get_username())
    try:
        observed = provisioner.observe(ctx)
    except PlanFailed:  # the provisioner's own refusal, already worded for the user
        raise
    except Exception as exc:  # noqa: BLE001 — shown to the user, nothing is written
        raise PlanFailed(
            f"Could not read the current state from AWS: {error_message(exc)}"
        ) from exc
    try:
        if action == Deployment.Action.DELETE:
            changes = provisioner.plan_delete(observed) + _plan_alarms_delete(instance)
        else:
            changes = provisioner.plan(spec, observed)
    except ValueError as exc:  # a spec the provisioner cannot reach from what AWS holds
        raise PlanFailed(f"Slipway cannot plan this change: {exc}") from exc
    return changes, observed


def _plan_alarms_delete(instance: ServiceInstance) -> list[Change]:
    """The teardown's last step: the instance's CloudWatch alarms (the engine deletes them)."""
    names = list(instance.alarms.order_by("alarm_name").values_list("alarm_name", flat=True))
    if not names:
        return []
    return [Change("alarms.delete", f"Delete {len(names)} CloudWatch alarm(s)", tuple(names))]


def deployment_plan(
    *,
    instance: ServiceInstance,
    spec: dict,
    user: AbstractBaseUser,
    action: str = Deployment.Action.UPDATE,
    reverts: Deployment | None = None,
    source: str = "web",
    restoring: dict | None = None,
) -> Deployment:
    """Check permissions and guardrails, read AWS, and store the plan for the user to confirm.

    Raises NothingToChange when AWS already matches (no row is written), GuardrailViolation
    when the environment forbids the change, PlanFailed when AWS cannot be read. AWS is read
    before any transaction opens; the rows are written afterwards.
    """
    changes, observed = _plan_checked(
        instance=instance, spec=spec, user=user, action=action, restoring=restoring
    )
    return _plan_record(
        instance=instance,
        spec=spec,
        changes=changes,
        observed=observed,
        user=user,
        action=action,
        reverts=reverts,
        source=source,
    )


def _plan_checked(
    *,
    instance: ServiceInstance,
    spec: dict,
    user: AbstractBaseUser,
    action: str,
    restoring: dict | None = None,
) -> tuple[list[Change], Observed]:
    """The read half of a plan: who may, what the guardrails allow, and the diff from AWS.
    Writes nothing, so it runs outside any transaction."""
    _require_owner(instance, user)
    if action == Deployment.Action.DELETE:
        refuse_if_routed_to(instance)
    if action != Deployment.Action.DELETE:
        # A first deploy (or a promotion) has no step to check, but the caps still hold.
        guardrails.check(
            environment=instance.environment,
            kind=instance.service.kind,
            before=instance.applied_spec,
            after=spec,
            restoring=restoring,
        )
    changes, observed = _plan_changes(instance=instance, spec=spec, user=user, action=action)
    if not changes:
        raise NothingToChange("Nothing to change: AWS already matches this spec.")
    return changes, observed


def _plan_record(
    *,
    instance: ServiceInstance,
    spec: dict,
    changes: list[Change],
    user: AbstractBaseUser,
    action: str,
    reverts: Deployment | None = None,
    source: str = "web",
    observed: Observed | None = None,
    savepoint: bool = True,
) -> Deployment:
    """The write half of a plan: the planned row and its audit, in one short transaction.
    What the plan observed is kept briefly for the first run (`deployments.observations`).
    `savepoint=False` (inside a caller's transaction that created the instance: the refusals
    below cannot happen there) saves the savepoint's two statements."""
    try:
        with transaction.atomic(savepoint=savepoint):
            deployment = Deployment.objects.create(
                instance=instance,
                action=action,
                spec=spec,
                previous_spec=instance.applied_spec,
                plan=[{"summary": c.summary, "details": list(c.details)} for c in changes],
                requested_by=user,
                reverts=reverts,
                status=Deployment.Status.PLANNED,
            )
            _audit(deployment, user, f"deployment.{action}.plan", source, after=spec)
            if observed is not None:
                observations.remember(deployment_id=deployment.pk, observed=observed)
    except IntegrityError as exc:
        if not savepoint:  # the caller's transaction is spoiled: no query can explain it
            raise
        if not ServiceInstance.objects.filter(pk=instance.pk).exists():
            # The service was removed while this plan was being made: its foreign key failed.
            raise DeploymentConflict(
                f"{instance.service.slug} was removed while this plan was being made."
            ) from exc
        if reverts is None or "one_planned_revert_per_person" not in str(exc):
            raise
        # A second Revert/Retry click (or request) while the first plan is unconfirmed.
        raise DeploymentConflict(
            f"You already have a plan that goes back to deployment #{reverts.pk}'s spec; "
            "confirm or discard it."
        ) from exc
    return deployment


def refuse_if_routed_to(instance: ServiceInstance) -> None:
    """Raise RoutedTo naming the deployed APIs that route to `instance`'s service."""
    apis = selectors.apis_routing_to(instance=instance)
    if apis:
        names = ", ".join(api.service.slug for api in apis)
        raise RoutedTo(
            f"{instance.service.slug} cannot be deleted from {instance.environment.name}: "
            f"the API{'s' if len(apis) > 1 else ''} {names} route{'' if len(apis) > 1 else 's'} "
            "to it. Remove those routes first."
        )


def _audit(deployment: Deployment, user, action: str, source: str, **extra) -> None:
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


# --- transitions: one conditional UPDATE each (the table of who/from-where is transitions.py) ---
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
    deployment: Deployment, transition: Transition, *, to: str, when: Q | None = None, **fields
) -> bool:
    """The transition's one conditional UPDATE; True when this call won it.

    `WHERE status IN (transition.sources)`: of several concurrent requests exactly one updates
    the row; the others update nothing and must write nothing.
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
            deployment_event_record(deployment_id=deployment.pk, type=event)
    return bool(won)


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
    return _confirm(deployment, user, source)


def _confirm(
    deployment: Deployment,
    user: AbstractBaseUser,
    source: str,
    *,
    new_instance: bool = False,
    savepoint: bool = True,
) -> Deployment:
    """Confirm a plan whose user has been checked. `new_instance`: the instance was created in
    the caller's still open transaction, so nobody else can see it, lock it or have deployed
    it since the plan (no lock, no staleness check). `savepoint=False` inside a caller's
    transaction that ends with this call (a conflict rolls all of it back anyway)."""
    instance = deployment.instance
    needs_approval = instance.environment.requires_approval
    fields = {}
    if needs_approval:
        hours = timedelta(hours=settings.APPROVAL_EXPIRY_HOURS)
        fields["approval_expires_at"] = timezone.now() + hours
    to = Deployment.Status.AWAITING_APPROVAL if needs_approval else Deployment.Status.QUEUED
    try:
        with transaction.atomic(savepoint=savepoint):
            stale = (
                not new_instance
                and _lock_instance(instance).applied_spec != deployment.previous_spec
            )
            won = not stale and _move(deployment, transitions.CONFIRM, to=to, **fields)
            if won:
                if not needs_approval:
                    _start(deployment)
                _audit(deployment, user, f"deployment.{deployment.action}.confirm", source)
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


def deployment_request(
    *,
    instance: ServiceInstance,
    spec: dict,
    user: AbstractBaseUser,
    action: str = Deployment.Action.UPDATE,
    source: str = "web",
) -> Deployment:
    """Plan and confirm in one call (API clients and scripts that do not review a diff).

    AWS is read first, outside any transaction; the plan and its confirmation are then written
    in one short transaction, so a refused confirmation leaves no planned row behind.
    """
    changes, observed = _plan_checked(instance=instance, spec=spec, user=user, action=action)
    with transaction.atomic():
        deployment = _plan_record(
            instance=instance,
            spec=spec,
            changes=changes,
            user=user,
            action=action,
            source=source,
            observed=observed,
        )
        # `user` planned it just now (checked as an owner by _plan_checked): the requester.
        return _confirm(deployment, user, source, savepoint=False)


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
            _audit(deployment, user, "deployment.approve", source)
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
            _audit(deployment, actor, f"deployment.{transition.action}", source)
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


def deployment_revert(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """Plan going back to the spec of an earlier succeeded deployment (one click, then confirm)."""
    transitions.REVERT.check_user(deployment, user)
    if not transitions.REVERT.open_on(deployment):
        raise DeploymentError("Only a succeeded deployment's spec can be reverted to.")
    return deployment_plan(
        instance=deployment.instance,
        spec=deployment.spec,
        user=user,
        action=Deployment.Action.REVERT,
        reverts=deployment,
        source=source,
    )


def service_launch(
    *,
    user: AbstractBaseUser,
    owner: Team,
    slug: str,
    kind: str,
    environment: Environment,
    spec: dict,
    code: bytes | None = None,
    description: str = "",
    confirm: bool = False,
    source: str = "web",
) -> Deployment:
    """Create a catalog service and plan its first deployment (confirmed at once if asked).

    `code`, when given, is stored as a CodeArtifact and referenced from the spec by its hash.
    Steps: 1. read AWS for a draft of the new instance (unsaved rows: nothing is written when
    the plan fails, and no transaction is open during the AWS calls); 2. in one short
    transaction, store the code, create the service and its instance, record the plan (and
    confirm it).
    """
    if code is not None:
        spec = {**spec, "code_sha256": CodeArtifact.digest(code)}
    draft = ServiceInstance(
        service=Service(slug=slug, kind=kind, owner=owner), environment=environment
    )
    changes, observed = _plan_checked(
        instance=draft, spec=spec, user=user, action=Deployment.Action.CREATE
    )
    with transaction.atomic():
        if code is not None:
            code_artifact_store(content=code)
        service = catalog_services.service_create(
            user=user, owner=owner, slug=slug, kind=kind, description=description
        )
        instance = catalog_services.instance_get_or_create(service=service, environment=environment)
        deployment = _plan_record(
            instance=instance,
            spec=spec,
            changes=changes,
            user=user,
            action=Deployment.Action.CREATE,
            source=source,
            observed=observed,
            savepoint=False,
        )
        if confirm:  # `user` planned it just now, as an owner (_plan_checked): the requester
            deployment = _confirm(deployment, user, source, new_instance=True, savepoint=False)
    return deployment
