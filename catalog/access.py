"""Object access for views: one helper per model, answering 404 or 403."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from catalog.models import Service


def get_service_for_user(user, slug: str, *, write: bool = False) -> Service:
    """The service with `slug`; 404 if missing, 403 if `write` and the user may not change it."""
    service = Service.objects.select_related("owner").filter(slug=slug).first()
    if service is None:
        raise Http404("No such service.")
    if write and not service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")
    return service


def get_deployment_for_user(user, pk: int, *, write: bool = False):
    """The deployment `pk` (with its service); 404 if missing, 403 if `write` and not an owner."""
    from deployments.models import Deployment

    deployment = (
        Deployment.objects.select_related(
            "instance__service__owner", "instance__environment", "requested_by", "approved_by"
        )
        .filter(pk=pk)
        .first()
    )
    if deployment is None:
        raise Http404("No such deployment.")
    if write and not deployment.instance.service.owned_by(user):
        raise PermissionDenied("Only members of the owner team can change this service.")
    return deployment


def get_instance_for_user(user, slug: str, environment: str, *, write: bool = False):
    """The service `slug` in `environment`; 404 if it was never planned there."""
    from catalog.models import ServiceInstance

    service = get_service_for_user(user, slug, write=write)
    instance = (
        ServiceInstance.objects.select_related("environment", "service__owner")
        .filter(service=service, environment__slug=environment)
        .first()
    )
    if instance is None:
        raise Http404("This service is not in that environment.")
    return instance
