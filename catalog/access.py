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
