"""Writes for deployments: plan, revert, launch a service (and the decisions on a plan:
confirm, approve, reject, cancel, which live in deployments/decisions.py).

The flow a user sees: a form's spec is *planned* (AWS is read, the diff stored on a `planned`
row and shown), then *confirmed* (→ `queued`, or `awaiting_approval` where the environment
requires a second person), then a worker runs it. Every function checks who may do it.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from audit.services import audit_batch
from catalog import services as catalog_services
from catalog.models import Environment, Service, ServiceInstance, Team
from deployments import guardrails, kinds, observations, selectors, transitions
from deployments.decisions import (  # noqa: F401 — re-exported: callers use them from here
    TRANSITION_EVENTS,
    confirm_checked,
    confirm_launched,
    confirmed,
    deployment_approve,
    deployment_audit,
    deployment_cancel,
    deployment_confirm,
    deployment_expire,
    deployment_reject,
    deployments_expire_approvals,
)
from deployments.errors import (  # noqa: F401 — re-exported: callers catch them from here
    DeploymentConflict,
    DeploymentError,
    NothingToChange,
    PlanFailed,
    RoutedTo,
)
from deployments.models import CodeArtifact, Deployment
from deployments.provisioners.base import Change, Context, Observed
from portal.aws import error_message


def code_artifact_store(*, content: bytes) -> CodeArtifact:
    """Keep a deployment package once per content hash. A package stored before is not read
    back (it can be 50 MB): the returned row's content loads only if asked for."""
    sha = CodeArtifact.digest(content)
    artifact, _ = CodeArtifact.objects.only("pk", "sha256", "size").get_or_create(
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
    status: str = Deployment.Status.PLANNED,
    **fields,
) -> Deployment:
    """The write half of a plan: the planned row and its audit, in one short transaction.
    What the plan observed is kept briefly for the first run (`deployments.observations`).
    `savepoint=False` (inside a caller's transaction that created the instance: the refusals
    below cannot happen there) saves the savepoint's two statements. `status` and `fields`:
    a launch's row inserted as its confirmation leaves it (decisions.confirm_launched)."""
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
                status=status,
                **fields,
            )
            deployment_audit(deployment, user, f"deployment.{action}.plan", source, after=spec)
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
    with transaction.atomic(), audit_batch():  # the plan's and confirmation's rows: one INSERT
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
        return confirm_checked(deployment, user, source, savepoint=False, planned_now=True)


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
    transaction without savepoints, store the code, create the service and its instance,
    record the plan (and confirm it), and insert the audit rows of all that in one statement.
    """
    if code is not None:
        spec = {**spec, "code_sha256": CodeArtifact.digest(code)}
    draft = ServiceInstance(
        service=Service(slug=slug, kind=kind, owner=owner), environment=environment
    )
    changes, observed = _plan_checked(
        instance=draft, spec=spec, user=user, action=Deployment.Action.CREATE
    )
    # A launch confirmed at once inserts its rows as the confirmation leaves them (nobody can
    # see them before commit, so there is no transition to win): no UPDATE after the INSERTs.
    status, confirm_fields = confirmed(environment) if confirm else (Deployment.Status.PLANNED, {})
    deploying = status == Deployment.Status.QUEUED
    # One transaction, its audit rows (service, plan, confirmation) inserted together at its end.
    with transaction.atomic(), audit_batch():
        if code is not None:
            code_artifact_store(content=code)
        # `user` may act for `owner`: _plan_checked checked it (the draft's owner is `owner`).
        instance = catalog_services.service_launch_rows(
            user=user,
            owner=owner,
            slug=slug,
            kind=kind,
            environment=environment,
            description=description,
            status=ServiceInstance.Status.DEPLOYING if deploying else None,
        )
        deployment = _plan_record(
            instance=instance,
            spec=spec,
            changes=changes,
            user=user,
            action=Deployment.Action.CREATE,
            source=source,
            observed=observed,
            savepoint=False,
            status=status,
            **confirm_fields,
        )
        if confirm:  # `user` planned it just now, as an owner (_plan_checked): the requester
            deployment = confirm_launched(deployment, user, source)
    return deployment
