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


def deployment_get(*, pk: int) -> Deployment | None:
    return (
        Deployment.objects.select_related(
            "instance__service__owner", "instance__environment", "requested_by"
        )
        .prefetch_related("steps")
        .filter(pk=pk)
        .first()
    )
