"""Reads for deployment pages."""

from django.db.models import QuerySet

from catalog.models import Service, ServiceInstance
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
    """What the deployment page shows, and which buttons this user gets."""
    owner = deployment.instance.service.owned_by(user)
    status = Deployment.Status
    return {
        "deployment": deployment,
        "can_confirm": owner
        and deployment.status == status.PLANNED
        and deployment.requested_by_id == user.pk,
        "can_cancel": owner
        and deployment.status in (status.PLANNED, status.AWAITING_APPROVAL, status.QUEUED),
        "can_approve": owner
        and deployment.status == status.AWAITING_APPROVAL
        and deployment.requested_by_id != user.pk,
        "can_revert": owner
        and deployment.status == status.SUCCEEDED
        and deployment.action != Deployment.Action.DELETE,
    }


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
