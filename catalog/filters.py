"""What the catalog was asked (`CatalogQuery`) and the conditions that answer it.

Shared by the rows (catalog/search.py) and the filter counts (catalog/facets.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet

from catalog.models import Service, ServiceInstance

# An instance in one of these states has something running (or trying to) in AWS.
DEPLOYED = (
    ServiceInstance.Status.HEALTHY,
    ServiceInstance.Status.DEPLOYING,
    ServiceInstance.Status.FAILED,
    ServiceInstance.Status.DRIFTED,
)
SORTS = {
    "name": "Name A–Z",
    "-name": "Name Z–A",
    "newest": "Newest first",
    "oldest": "Oldest first",
}


@dataclass(frozen=True)
class CatalogQuery:
    """What the user asked the catalog for; unknown values are dropped, never an error."""

    q: str = ""
    team: str = ""
    kind: str = ""
    lifecycle: str = ""
    environment: str = ""
    status: str = ""
    sort: str = "name"
    after: str = ""

    @classmethod
    def from_params(cls, params) -> CatalogQuery:
        def pick(name, allowed):
            value = params.get(name, "").strip()
            return value if value in allowed else ""

        sort = params.get("sort", "name")
        return cls(
            q=" ".join(params.get("q", "").split())[:100],
            team=params.get("team", "").strip()[:50],
            kind=pick("kind", Service.Kind.values),
            lifecycle=pick("lifecycle", Service.Lifecycle.values),
            environment=params.get("environment", "").strip()[:50],
            status=pick("status", ServiceInstance.Status.values),
            sort=sort if sort in SORTS else "name",
            after=params.get("after", "").strip()[:120],
        )

    @property
    def is_filtered(self) -> bool:
        return any([self.q, self.team, self.kind, self.lifecycle, self.environment, self.status])


def search_q(text: str) -> Q:
    """Every word must appear in the slug, name, description or tags (case-insensitive).

    On PostgreSQL each of these lookups is served by a pg_trgm GIN index (migration 0003), so
    a search reads only candidate rows; on SQLite it is a scan, fine at development sizes.
    """
    condition = Q()
    for word in text.split()[:5]:
        condition &= (
            Q(slug__icontains=word)
            | Q(name__icontains=word)
            | Q(description__icontains=word)
            | Q(tags__icontains=word)
        )
    return condition


def service_q(query: CatalogQuery, *, team_id, skip: tuple[str, ...] = ()) -> Q:
    """Conditions on Service columns: search, team, kind, lifecycle (minus the skipped ones)."""
    condition = search_q(query.q) if query.q else Q()
    if query.team and "team" not in skip:
        condition &= Q(owner_id=team_id)
    if query.kind and "kind" not in skip:
        condition &= Q(kind=query.kind)
    if query.lifecycle and "lifecycle" not in skip:
        condition &= Q(lifecycle=query.lifecycle)
    return condition


def instance_q(query: CatalogQuery, *, environment_id) -> Q | None:
    """Which instance a service needs to match the environment/status filters (None: any)."""
    if not (query.environment or query.status):
        return None
    condition = Q(status=query.status) if query.status else Q(status__in=DEPLOYED)
    if query.environment:
        condition &= Q(environment_id=environment_id)
    return condition


def with_instance_filter(qs: QuerySet, query: CatalogQuery, environment_id) -> QuerySet:
    condition = instance_q(query, environment_id=environment_id)
    if condition is None:
        return qs
    matching = ServiceInstance.objects.filter(condition, service_id=OuterRef("pk"))
    return qs.filter(Exists(matching))
