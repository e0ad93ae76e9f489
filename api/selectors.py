"""Reads for the API's list endpoints, in a fixed number of queries whatever the catalog size."""

from __future__ import annotations

from dataclasses import dataclass

from catalog import search
from catalog.models import Environment, Service, Team


@dataclass
class ServicePage:
    results: list[Service]
    next_cursor: str | None
    count: int
    facets: list[search.Facet]


def service_page(*, query: search.CatalogQuery, limit: int) -> ServicePage:
    """One page of services matching `query` (keyset after `query.after`), the total and facets.

    The search, filters, keyset and facet counts are the catalog page's own (catalog.search),
    so `?q=` finds the same services here as on the page, with the same indexes and cache.
    Queries: environments, the owner team (when filtered), the page, and the facets on a cache
    miss.
    """
    environments = list(Environment.objects.all())
    environment = next((e for e in environments if e.slug == query.environment), None)
    env_id = environment.pk if environment else -1
    team = None
    if query.team:
        team = Team.objects.filter(slug=query.team).only("pk", "slug", "name").first()
    team_id = team.pk if team else -1  # an unknown team matches nothing

    qs = search.matching(query, team_id=team_id, environment_id=env_id)
    rows = list(qs.select_related("owner")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = search.cursor_for(rows[-1], query.order)
    facets, total = search.cached_facets(
        query, team=team, team_id=team_id, environments=environments, env_id=env_id
    )
    return ServicePage(results=rows, next_cursor=next_cursor, count=total, facets=facets)
