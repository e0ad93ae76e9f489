"""Writes for deployments: plan, confirm, approve, reject, cancel, revert; launch a service.

The flow a user sees: a form's spec is *planned* (AWS is read, the diff stored on a `planned`
row and shown), then *confirmed* (→ `queued`, or `awaiting_approval` where the environment
requires a second person), then a worker runs it. Every function checks who may do it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from catalog import services as catalog_services
from catalog.models import Environment, ServiceInstance, Team
from deployments import guardrails, kinds, selectors
from deployments.errors import (  # noqa: F401 — re-exported: callers catch them from here
    DeploymentConflict,
    DeploymentError,
    NothingToChange,
    PlanFailed,
    RoutedTo,
)
from deployments.models import CodeArtifact, Deployment
from deployments.provisioners.base import Change, Context
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


def _plan_changes(*, instance: ServiceInstance, spec: dict, user, action: str) -> list[Change]:
    """Read AWS and compute the diff (in the web process, as the acting user)."""
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
            return provisioner.plan_delete(observed) + _plan_alarms_delete(instance)
        return provisioner.plan(spec, observed)
    except ValueError as exc:  # a spec the provisioner cannot reach from what AWS holds
        raise PlanFailed(f"Slipway cannot plan this change: {exc}") from exc


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
) -> Deployment:
    """Check permissions and guardrails, read AWS, and store the plan for the user to confirm.

    Raises NothingToChange when AWS already matches (no row is written), GuardrailViolation
    when the environment forbids the change, PlanFailed when AWS cannot be read.
    """
    _require_owner(instance, user)
    if action == Deployment.Action.DELETE:
        refuse_if_routed_to(instance)
    if action != Deployment.Action.DELETE and instance.applied_spec is not None:
        guardrails.check(
            environment=instance.environment,
            kind=instance.service.kind,
            before=instance.applied_spec,
            after=spec,
        )
    changes = _plan_changes(instance=instance, spec=spec, user=user, action=action)
    if not changes:
        raise NothingToChange("Nothing to change: AWS already matches this spec.")
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


def deployment_confirm(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """The requester confirms the plan: queue it, or wait for approval where required."""
    if deployment.requested_by_id != user.pk:
        raise PermissionDenied("Only the person who planned this change can confirm it.")
    instance = deployment.instance
    _require_owner(instance, user)
    if deployment.status != Deployment.Status.PLANNED:
        raise DeploymentError(f"This deployment is {deployment.get_status_display()}, not planned.")
    instance.refresh_from_db()
    if instance.applied_spec != deployment.previous_spec:
        raise DeploymentError("The service changed since this plan was made; plan it again.")
    needs_approval = instance.environment.requires_approval
    now = timezone.now()
    deployment.status = (
        Deployment.Status.AWAITING_APPROVAL if needs_approval else Deployment.Status.QUEUED
    )
    if needs_approval:
        deployment.approval_expires_at = now + timedelta(hours=settings.APPROVAL_EXPIRY_HOURS)
    try:
        with transaction.atomic():
            deployment.save(update_fields=["status", "approval_expires_at"])
    except IntegrityError as exc:
        raise DeploymentConflict(
            f"A deployment of {instance.service.slug} to {instance.environment.name} is "
            "already in progress; wait for it to finish."
        ) from exc
    if not needs_approval:
        _mark_deploying(instance)
        _enqueue(deployment)
    _audit(deployment, user, f"deployment.{deployment.action}.confirm", source)
    return deployment


def _mark_deploying(instance: ServiceInstance) -> None:
    ServiceInstance.objects.filter(pk=instance.pk).update(status=ServiceInstance.Status.DEPLOYING)


def deployment_request(
    *,
    instance: ServiceInstance,
    spec: dict,
    user: AbstractBaseUser,
    action: str = Deployment.Action.UPDATE,
    source: str = "web",
) -> Deployment:
    """Plan and confirm in one call (API clients and scripts that do not review a diff)."""
    with transaction.atomic():
        deployment = deployment_plan(
            instance=instance, spec=spec, user=user, action=action, source=source
        )
        return deployment_confirm(deployment=deployment, user=user, source=source)


def deployment_approve(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """A second member of the owner team approves; the requester never can."""
    _require_owner(deployment.instance, user)
    if deployment.requested_by_id == user.pk:
        raise PermissionDenied("You cannot approve your own change; ask a teammate.")
    if deployment.status != Deployment.Status.AWAITING_APPROVAL:
        raise DeploymentError("This deployment is not waiting for approval.")
    if deployment.approval_expires_at and deployment.approval_expires_at < timezone.now():
        deployments_expire_approvals()
        raise DeploymentError("This approval request has expired; plan the change again.")
    updated = Deployment.objects.filter(
        pk=deployment.pk, status=Deployment.Status.AWAITING_APPROVAL
    ).update(status=Deployment.Status.QUEUED, approved_by=user)
    if not updated:
        raise DeploymentError("Someone else already decided on this deployment.")
    deployment.refresh_from_db()
    _mark_deploying(deployment.instance)
    _enqueue(deployment)
    _audit(deployment, user, "deployment.approve", source)
    return deployment


def deployment_reject(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    _require_owner(deployment.instance, user)
    deployment = _cancel(
        deployment,
        from_statuses=[Deployment.Status.AWAITING_APPROVAL],
        reason=f"Rejected by {user.get_username()}.",
    )
    _audit(deployment, user, "deployment.reject", source)
    return deployment


def deployment_cancel(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """Withdraw a change before a worker picks it up."""
    _require_owner(deployment.instance, user)
    deployment = _cancel(
        deployment,
        from_statuses=[
            Deployment.Status.PLANNED,
            Deployment.Status.AWAITING_APPROVAL,
            Deployment.Status.QUEUED,
        ],
        reason=f"Cancelled by {user.get_username()}.",
    )
    _audit(deployment, user, "deployment.cancel", source)
    return deployment


def _cancel(deployment: Deployment, *, from_statuses: list[str], reason: str) -> Deployment:
    # Conditional: a worker that claims the row first wins, and the cancel is refused.
    updated = Deployment.objects.filter(pk=deployment.pk, status__in=from_statuses).update(
        status=Deployment.Status.CANCELLED, error=reason, finished_at=timezone.now()
    )
    if not updated:
        raise DeploymentError("Too late: this deployment is no longer waiting.")
    deployment.refresh_from_db()
    _restore_instance_status(deployment.instance)
    return deployment


def _restore_instance_status(instance: ServiceInstance) -> None:
    instance.refresh_from_db()
    if instance.status == ServiceInstance.Status.DEPLOYING:
        status = (
            ServiceInstance.Status.HEALTHY
            if instance.applied_spec
            else ServiceInstance.Status.NOT_DEPLOYED
        )
        ServiceInstance.objects.filter(pk=instance.pk).update(status=status)


def deployments_expire_approvals() -> int:
    """Beat: approval requests past their expiry are cancelled. Returns how many."""
    expired = Deployment.objects.filter(
        status=Deployment.Status.AWAITING_APPROVAL, approval_expires_at__lt=timezone.now()
    )
    return expired.update(
        status=Deployment.Status.CANCELLED,
        error="Approval expired before anyone approved it.",
        finished_at=timezone.now(),
    )


def deployment_revert(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """Plan going back to the spec of an earlier succeeded deployment (one click, then confirm)."""
    if deployment.status != Deployment.Status.SUCCEEDED or deployment.action == "delete":
        raise DeploymentError("Only a succeeded deployment's spec can be reverted to.")
    return deployment_plan(
        instance=deployment.instance,
        spec=deployment.spec,
        user=user,
        action=Deployment.Action.REVERT,
        reverts=deployment,
        source=source,
    )


@transaction.atomic
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
    """
    if code is not None:
        spec = {**spec, "code_sha256": code_artifact_store(content=code).sha256}
    service = catalog_services.service_create(
        user=user, owner=owner, slug=slug, kind=kind, description=description
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=environment)
    deployment = deployment_plan(
        instance=instance, spec=spec, user=user, action=Deployment.Action.CREATE, source=source
    )
    if confirm:
        deployment = deployment_confirm(deployment=deployment, user=user, source=source)
    return deployment
