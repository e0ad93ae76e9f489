"""Reads for the API's list endpoints, in a fixed number of queries whatever the catalog size."""

from __future__ import annotations

from dataclasses import dataclass

from catalog import search
from catalog.models import Environment, Team

# The fields of a service in the API's lists (api.schemas.ServiceOut), read as plain values.
SERVICE_FIELDS = (
    "slug",
    "name",
    "kind",
    "owner__slug",
    "lifecycle",
    "system",
    "description",
    "repo_url",
    "docs_url",
    "tags",
    "created_at",
)


@dataclass
class ServicePage:
    results: list[dict]  # SERVICE_FIELDS, "owner__slug" as "owner"
    next_cursor: str | None
    count: int
    facets: list[search.Facet]


def service_page(*, query: search.CatalogQuery, limit: int) -> ServicePage:
    """One page of services matching `query` (keyset after `query.after`), the total and facets.

    The search, filters, keyset and facet counts are the catalog page's own (catalog.search),
    so `?q=` finds the same services here as on the page, with the same indexes and cache.
    Queries: the environment and the owner team (each only when filtered by it), the page, and
    the facets on a cache miss. Rows are plain values, not model instances (50 to 200 a page).
    """
    env_id = -1  # an unknown environment (or team) matches nothing
    if query.environment:
        env_id = (
            Environment.objects.filter(slug=query.environment).values_list("pk", flat=True).first()
            or -1
        )
    team = None
    if query.team:
        team = Team.objects.filter(slug=query.team).only("pk", "slug", "name").first()
    team_id = team.pk if team else -1

    qs = search.matching(query, team_id=team_id, environment_id=env_id)
    fields = (*SERVICE_FIELDS, "pk")
    if query.order == "relevance":
        fields += ("rank",)
    rows = list(qs.values(*fields)[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = search.cursor_for(rows[-1], query.order)
    # Environments are read only when the counts are not cached (the facets list them).
    facets, total = search.cached_facets(
        query, team=team, team_id=team_id, environments=None, env_id=env_id
    )
    results = [
        {name.replace("owner__slug", "owner"): row[name] for name in SERVICE_FIELDS} for row in rows
    ]
    return ServicePage(results=results, next_cursor=next_cursor, count=total, facets=facets)
