"""Reads for deployment pages."""

from django.db.models import QuerySet

from catalog.models import Service
from deployments.models import Deployment


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
