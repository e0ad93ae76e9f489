"""API: teams, environments and services (read for everyone with a token, create for members)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from ninja.renderers import JSONRenderer

from api import selectors
from api.common import audited
from api.pagination import BoundedCursorPagination, FacetOut, ServiceQuery
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
from catalog.search import CatalogQuery
from catalog.specs import normalized_words, resolve_dependencies

router = Router(tags=["catalog"])
_renderer = JSONRenderer()  # the API's own (api.v1 uses the default)
_NO_RESULTS = '{"results": null'  # how the page's body starts before the rows are put in


# Every GET answers with an ETag and 304 Not Modified to a matching If-None-Match
# (api/urls.py wraps the API's views in Django's ConditionalGetMiddleware).
CONDITIONAL = {
    "responses": {"304": {"description": "Not modified: `If-None-Match` matched the `ETag`."}}
}


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


class ServicePageOut(Schema):
    results: list[ServiceOut]
    next_cursor: str | None = Field(..., description="Pass as `cursor` for the next page.")
    next: str | None = Field(..., description="The next page's URL (null on the last page).")
    count: int = Field(..., description="Services matching the filters, on every page.")
    facets: list[FacetOut] = Field(
        ..., description="Counts per filter value; each facet ignores its own filter."
    )


@router.get("/teams", response=list[TeamDetailOut], openapi_extra=CONDITIONAL)
@paginate(BoundedCursorPagination, ordering=("slug",))
def list_teams(request):
    """Teams with their members and roles, by slug, a page at a time."""
    return Team.objects.prefetch_related("memberships__user")


@router.get("/environments", response=list[EnvironmentOut], openapi_extra=CONDITIONAL)
@paginate(BoundedCursorPagination, ordering=("slug",))
def list_environments(request):
    """Environments by slug, a page at a time."""
    return Environment.objects.all()


@router.get("/services", response=ServicePageOut, openapi_extra=CONDITIONAL)
def list_services(request, filters: Query[ServiceQuery]):
    """Services, a page at a time (keyset cursor), with the total and facet counts.

    Filters combine with AND; `facets` says how many services each filter value would give.
    """
    query = CatalogQuery(
        q=" ".join(filters.q.split()),
        team=filters.owner.strip(),
        kind=filters.kind,
        lifecycle=filters.lifecycle,
        environment=filters.environment.strip(),
        status=filters.status,
        sort=filters.sort,
        after=filters.cursor.strip(),
    )
    page = selectors.service_page(query=query, limit=filters.limit)
    next_url = None
    if page.next_cursor:
        params = {k: v for k, v in request.GET.items() if k != "cursor"}
        next_url = request.build_absolute_uri(
            f"{request.path}?{urlencode({**params, 'cursor': page.next_cursor})}"
        )
    facets = [
        {
            "name": "owner" if facet.name == "team" else facet.name,
            "label": facet.label,
            "options": [
                {"value": o.value, "label": o.label, "count": o.count, "selected": o.selected}
                for o in facet.options
            ],
            "hidden": facet.hidden,
        }
        for facet in page.facets
    ]
    body = {
        "results": None,  # written in below: JSON text already (api.selectors)
        "next_cursor": page.next_cursor,
        "next": next_url,
        "count": page.count,
        "facets": facets,
    }
    # Already the shape of ServicePageOut: the rows as JSON from the selector, the rest as plain
    # values, rendered as is without validating 50-200 rows through the response schema again
    # (most of the call's time). The schema still documents the answer; api/tests pin that they
    # agree.
    content = _renderer.render(request, body, response_status=200)
    assert content.startswith(_NO_RESULTS)
    content = '{"results": ' + page.results_json + content[len(_NO_RESULTS) :]
    content_type = f"{_renderer.media_type}; charset={_renderer.charset}"
    return HttpResponse(content, content_type=content_type)


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
            slugs = normalized_words(wanted["depends_on"])
            wanted["depends_on"] = resolve_dependencies(service=service, slugs=slugs)
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
