"""Writes that start or end a service's life in an environment, on top of the plan/confirm flow.

- `instance_first_deploy`: the first deployment of a service to an environment where it runs
  nothing yet: a service imported from Backstage (no instance at all), or a promotion of the
  spec running in another environment (dev → prod);
- `deployment_retry`: plan a failed first create's spec again;
- `service_remove`: the way out of a service that never ran (or no longer runs): tear down
  anything AWS still holds through the engine, then remove its rows from the catalog.

Each one plans through `services.deployment_plan`, so permissions, guardrails, the plan page,
confirmation and approval are the same as for every other change.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from catalog import services as catalog_services
from catalog.models import Environment, Service, ServiceInstance
from deployments import selectors, services, transitions
from deployments.models import Deployment

ACTIVE = list(Deployment.ACTIVE)


def _require_owner(service: Service, user: AbstractBaseUser) -> None:
    if not service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")


def deploy_target_error(*, service: Service, environment: Environment) -> str:
    """Why `service` cannot get a first deployment in `environment` ("" when it can)."""
    from deployments import kinds

    if service.kind not in kinds.KINDS:  # a catalog-only resource imported from Backstage
        return f"{service.slug} is a catalog entry only: Slipway does not deploy this kind."
    instance = service.instances.filter(environment=environment).first()
    if instance is None:
        return ""
    if instance.applied_spec is not None:
        return f"{service.slug} already runs in {environment.name}: update it instead."
    if instance.deployments.filter(status__in=ACTIVE).exists():
        return f"A deployment of {service.slug} to {environment.name} is already under way."
    return ""


def promotion_spec(*, source: ServiceInstance, environment: Environment) -> dict:
    """The spec running in `source`, as the starting point for `environment`.

    Everything carries over (code, sizes, settings) except what is named after the
    environment: an API's stage.
    """
    spec = dict(source.applied_spec)
    if "stage" in spec:
        spec["stage"] = environment.slug
    return spec


def instance_first_deploy(
    *,
    service: Service,
    environment: Environment,
    spec: dict,
    user: AbstractBaseUser,
    code: bytes | None = None,
    source: str = "web",
) -> Deployment:
    """Plan the first deployment of an existing catalog service to `environment`.

    The instance row is created if needed (an imported service has none). Refused when the
    service already runs there, or a deployment there is under way.
    """
    _require_owner(service, user)
    error = deploy_target_error(service=service, environment=environment)
    if error:
        raise services.DeploymentError(error)
    if code is not None:
        spec = {**spec, "code_sha256": services.code_artifact_store(content=code).sha256}
    instance = catalog_services.instance_get_or_create(service=service, environment=environment)
    return services.deployment_plan(
        instance=instance,
        spec=spec,
        user=user,
        action=Deployment.Action.CREATE,
        source=source,
    )


def deployment_retry(
    *, deployment: Deployment, user: AbstractBaseUser, source: str = "web"
) -> Deployment:
    """Plan a failed first create's spec again (a new plan to confirm, like a revert).

    Who and from which state: `transitions.RETRY`; a second click while the first plan is
    unconfirmed is refused (the plan points back at `deployment`, see one_planned_revert).
    """
    transitions.RETRY.check_user(deployment, user)
    deployment.instance.refresh_from_db()
    if not transitions.RETRY.open_on(deployment):
        raise services.DeploymentError(
            "Only a failed first deployment can be retried; this service has moved on since."
        )
    return services.deployment_plan(
        instance=deployment.instance,
        spec=deployment.spec,
        user=user,
        action=Deployment.Action.CREATE,
        reverts=deployment,
        source=source,
    )


def removal_blockers(*, service: Service) -> list[ServiceInstance]:
    """Instances that still run a deployed spec: each must go through its own delete flow."""
    return [
        instance
        for instance in service.instances.select_related("environment")
        if instance.applied_spec is not None
    ]


def service_remove(
    *, service: Service, user: AbstractBaseUser, source: str = "web"
) -> Deployment | None:
    """Remove a service that runs nowhere; first tear down anything AWS still holds for it.

    Steps: 1. refuse while an environment runs a deployed spec (its delete flow comes first)
    or a deployment is under way; 2. for each instance, plan a teardown against what AWS
    holds now: if there is anything (a failed first create may have left a function or a
    log group), return that plan for the user to confirm; the engine tears it down, and the
    user removes the service afterwards; 3. when AWS holds nothing, remove the rows.
    """
    _require_owner(service, user)
    blockers = removal_blockers(service=service)
    if blockers:
        where = ", ".join(i.environment.name for i in blockers)
        raise services.DeploymentError(
            f"{service.slug} still runs in {where}; delete it from there first."
        )
    instances = list(service.instances.select_related("environment", "service__owner"))
    if any(i.deployments.filter(status__in=ACTIVE).exists() for i in instances):
        raise services.DeploymentError(f"A deployment of {service.slug} is under way; wait.")
    for instance in instances:
        latest = selectors.latest_create(instance=instance)
        try:
            return services.deployment_plan(
                instance=instance,
                spec=latest.spec if latest else {},
                user=user,
                action=Deployment.Action.DELETE,
                source=source,
            )
        except services.NothingToChange:
            # AWS holds nothing for this instance: forget ARNs a failed run recorded.
            ServiceInstance.objects.filter(pk=instance.pk).update(resources={})
    catalog_services.service_delete(service=service, user=user)
    return None
