"""Reads from the catalog, shaped for pages (a fixed number of queries whatever the size)."""

from django.db.models import Prefetch, QuerySet

from catalog.models import Environment, Service, ServiceInstance, Team


def service_list(*, search: str = "") -> QuerySet[Service]:
    qs = Service.objects.select_related("owner").prefetch_related(
        Prefetch(
            "instances",
            queryset=ServiceInstance.objects.select_related("environment"),
        )
    )
    if search:
        qs = qs.filter(slug__icontains=search) | qs.filter(description__icontains=search)
    return qs.order_by("slug")


def service_get(*, slug: str) -> Service | None:
    return Service.objects.select_related("owner").filter(slug=slug).first()


def service_instances(*, service: Service) -> QuerySet[ServiceInstance]:
    return service.instances.select_related("environment")


def teams_for_user(*, user) -> QuerySet[Team]:
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user).distinct()


def environments() -> QuerySet[Environment]:
    return Environment.objects.all()
