"""API: teams, environments and services (read for everyone with a token, create for members)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404
from ninja import Query, Router, Schema, Status

from api.common import audited
from api.schemas import (
    EnvironmentOut,
    Error,
    FormErrors,
    MetricSummaryOut,
    ServiceDetailOut,
    ServiceIn,
    ServiceOut,
    ServicePatch,
)
from catalog import services as catalog_services
from catalog.access import get_instance_for_user, get_service_for_user
from catalog.models import Environment, Service, ServiceInstance, Team

router = Router(tags=["catalog"])


class ServiceFilters(Schema):
    q: str = ""
    owner: str = ""
    kind: str = ""


class MemberOut(Schema):
    username: str
    role: str


class TeamDetailOut(Schema):
    slug: str
    name: str
    description: str
    members: list[MemberOut]

    @staticmethod
    def resolve_members(obj):
        return [{"username": m.user.get_username(), "role": m.role} for m in obj.memberships.all()]


@router.get("/teams", response=list[TeamDetailOut])
def list_teams(request):
    """Every team, with its members and their roles."""
    return list(Team.objects.prefetch_related("memberships__user"))


@router.get("/environments", response=list[EnvironmentOut])
def list_environments(request):
    return list(Environment.objects.all())


@router.get("/services", response=list[ServiceOut])
def list_services(request, filters: Query[ServiceFilters]):
    """Services, optionally filtered by a search term, owner team slug or kind."""
    qs = Service.objects.select_related("owner").order_by("slug")
    if filters.q:
        term = filters.q[:100]
        qs = qs.filter(
            Q(slug__icontains=term) | Q(name__icontains=term) | Q(description__icontains=term)
        )
    if filters.owner:
        qs = qs.filter(owner__slug=filters.owner)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return list(qs)


def _service_detail(slug: str) -> Service:
    service = (
        Service.objects.select_related("owner")
        .prefetch_related(
            "depends_on",
            Prefetch("instances", queryset=ServiceInstance.objects.select_related("environment")),
        )
        .filter(slug=slug)
        .first()
    )
    if service is None:
        raise Http404("No such service.")
    return service


@router.get("/services/{slug}", response={200: ServiceDetailOut, 404: Error})
def get_service(request, slug: str):
    """One service with its dependencies and its instances per environment."""
    return Status(200, _service_detail(slug))


@router.post("/services", response={201: ServiceDetailOut, 403: Error, 404: Error, 422: FormErrors})
def create_service(request, payload: ServiceIn):
    """Add a service to the catalog (no deployment); the owner must be a team you are in."""
    target = ("catalog.service", "", payload.slug)
    with audited(request, action="service.create", target=target) as out:
        owner = Team.objects.filter(slug=payload.owner).first()
        if owner is None:
            raise Http404(f"No team {payload.owner!r}.")
        service = catalog_services.service_create(
            user=request.user,
            owner=owner,
            slug=payload.slug,
            kind=payload.kind,
            name=payload.name,
            description=payload.description,
            lifecycle=payload.lifecycle,
            tags=payload.tags,
        )
        out["target"] = service
        out["after"] = payload.dict()
    return Status(201, _service_detail(service.slug))


@router.patch(
    "/services/{slug}", response={200: ServiceDetailOut, 403: Error, 404: Error, 422: FormErrors}
)
def update_service(request, slug: str, payload: ServicePatch):
    """Change a service's catalog data (owner team members and staff)."""
    with audited(request, action="service.update", target=("catalog.service", "", slug)) as out:
        service = get_service_for_user(request.user, slug, write=True)
        out["target"] = service
        changes = payload.dict(exclude_unset=True)
        current = {
            "name": service.name,
            "description": service.description,
            "lifecycle": service.lifecycle,
            "system": service.system,
            "repo_url": service.repo_url,
            "docs_url": service.docs_url,
            "tags": list(service.tags),
            "depends_on": list(service.depends_on.all()),
        }
        wanted = {k: v for k, v in changes.items() if v is not None}
        if "depends_on" in wanted:
            slugs = wanted["depends_on"]
            found = list(Service.objects.filter(slug__in=slugs))
            missing = sorted(set(slugs) - {s.slug for s in found})
            if missing:
                raise ValidationError({"depends_on": f"No such services: {', '.join(missing)}."})
            wanted["depends_on"] = found
        catalog_services.service_update(service=service, user=request.user, **{**current, **wanted})
        out["after"] = {k: v for k, v in changes.items() if k != "depends_on"}
    return Status(200, _service_detail(slug))


@router.get(
    "/services/{slug}/environments/{environment}/metrics/summary",
    response={200: MetricSummaryOut, 404: Error},
    tags=["metrics"],
)
def metrics_summary(request, slug: str, environment: str):
    """Error rate (Lambda, API Gateway) or CPU (ECS) over the last 15 minutes, and alarm state."""
    from monitoring.selectors import instance_summary

    instance = get_instance_for_user(request.user, slug, environment)
    summary = instance_summary(instance=instance)
    return Status(
        200,
        {
            "label": summary.label,
            "value": summary.value,
            "state": summary.state,
            "error": summary.error,
        },
    )
