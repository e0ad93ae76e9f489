"""Reads for deployment pages."""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from catalog.models import Environment, Service, ServiceInstance
from deployments import transitions
from deployments.models import Deployment
from deployments.provisioners.base import Observed, OwnedResource


def deployments_for_service(*, service: Service) -> QuerySet[Deployment]:
    return Deployment.objects.filter(instance__service=service).select_related(
        "instance__environment", "requested_by"
    )


def active_deployment(*, service: Service) -> Deployment | None:
    return (
        deployments_for_service(service=service)
        .filter(status__in=Deployment.ACTIVE)
        .order_by("-created_at")
        .first()
    )


def deployment_page_context(deployment: Deployment, user) -> dict:
    """What the deployment page shows; `actions` are its buttons (the services' own rules)."""
    return {"deployment": deployment, "actions": transitions.allowed_actions(deployment, user)}


def owned_resources(*, instance: ServiceInstance) -> list[OwnedResource]:
    """The AWS resources the instance itself owns, as its kind's provisioner defines them.

    Read from what the engine recorded (`instance.resources` uses the same keys as the
    provisioner's observed values), so pages show it without calling AWS. Shared resources
    (the environment's execution role, cluster, load balancer) are never in it, even if an
    older run recorded them.
    """
    from deployments import kinds

    recorded = Observed(exists=True, values=dict(instance.resources or {}))
    return kinds.get(instance.service.kind).provisioner.owned_resources(recorded)


@dataclass(frozen=True)
class RouteProtection:
    route: str
    target: str
    protection: str


def route_protection(*, instance: ServiceInstance) -> list[RouteProtection]:
    """An API's routes as applied, each with how it is protected ("JWT (orders.read)")."""
    from deployments.specs.apigateway import protection

    spec = instance.applied_spec or {}
    if spec.get("kind") != "apigateway":
        return []
    authorizers = spec.get("authorizers") or []
    return [
        RouteProtection(
            route=f"{r['method']} {r['path']}",
            target=r["target"],
            protection=protection(r, authorizers),
        )
        for r in spec.get("routes") or []
    ]


def apis_routing_to(*, instance: ServiceInstance) -> list[ServiceInstance]:
    """The deployed APIs in `instance`'s environment with a route to its service.

    Deleting the service would break them (their integrations point at its function or its
    load balancer path), so the delete flow names them instead.
    """
    apis = (
        ServiceInstance.objects.filter(
            environment_id=instance.environment_id,
            service__kind=Service.Kind.APIGATEWAY,
            applied_spec__isnull=False,
        )
        .exclude(pk=instance.pk)
        .select_related("service", "environment")
        .order_by("service__slug")
    )
    slug = instance.service.slug
    return [
        api
        for api in apis
        if any(route.get("target") == slug for route in api.applied_spec.get("routes", []))
    ]


def latest_create(*, instance: ServiceInstance) -> Deployment | None:
    """The instance's most recent create deployment (the spec a retry plans again)."""
    return instance.deployments.filter(action=Deployment.Action.CREATE).order_by("-pk").first()


@dataclass(frozen=True)
class EnvironmentRow:
    """One environment on a service's Deployments tab, and the way forward it offers."""

    environment: Environment
    instance: ServiceInstance | None
    failed_create: Deployment | None  # a failed first create: offer Retry / Delete the service
    promote_from: ServiceInstance | None  # runs nothing here, but runs there: offer a promotion
    busy: bool  # a deployment here is waiting or running

    @property
    def deployed(self) -> bool:
        return self.instance is not None and self.instance.applied_spec is not None

    @property
    def can_deploy(self) -> bool:
        return not self.deployed and not self.busy and self.failed_create is None


def environment_rows(
    *, service: Service, instances: list[ServiceInstance] | None = None
) -> list[EnvironmentRow]:
    """Every environment, with the service's instance there (if any): two queries, or three
    without `instances` (the service's instances with their environments, if already read)."""
    if instances is None:
        instances = list(service.instances.select_related("environment"))
    by_environment = {i.environment_id: i for i in instances}
    # One read for both questions: which instances are busy, and each one's latest create.
    busy: set[int] = set()
    latest_creates: dict[int, Deployment] = {}
    for deployment in (
        Deployment.objects.filter(instance__service=service)
        .filter(Q(status__in=Deployment.ACTIVE) | Q(action=Deployment.Action.CREATE))
        .order_by("pk")
    ):
        if deployment.status in Deployment.ACTIVE:
            busy.add(deployment.instance_id)
        if deployment.action == Deployment.Action.CREATE:
            latest_creates[deployment.instance_id] = deployment
    running = [i for i in instances if i.applied_spec is not None]
    rows = []
    for environment in Environment.objects.all():
        instance = by_environment.get(environment.pk)
        failed = None
        if instance is not None and instance.applied_spec is None:
            latest = latest_creates.get(instance.pk)
            if latest is not None:
                latest.instance = instance
                # The same rule as the Retry button on the deployment page (one table).
                failed = latest if transitions.RETRY.open_on(latest) else None
        rows.append(
            EnvironmentRow(
                environment=environment,
                instance=instance,
                failed_create=failed,
                promote_from=next((i for i in running if i.environment_id != environment.pk), None),
                busy=instance is not None and instance.pk in busy,
            )
        )
    return rows
