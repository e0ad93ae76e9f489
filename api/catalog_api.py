"""API: teams, environments and services (read for everyone with a token, create for members)."""

from __future__ import annotations

from django.db.models import Prefetch, Q
from django.http import Http404
from ninja import Query, Router, Schema, Status

from api.schemas import EnvironmentOut, Error, FormErrors, ServiceDetailOut, ServiceIn, ServiceOut
from api.v1 import audited
from catalog import services as catalog_services
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
