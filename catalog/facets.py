"""Filter counts ("facets") of the catalog page, cached and invalidated by catalog writes.

Each facet is counted under every *other* active filter, so its options say what choosing
them would give.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count

from catalog.filters import DEPLOYED, CatalogQuery, service_q, with_instance_filter
from catalog.models import Service, ServiceInstance, Team

# How long facet counts are reused; catalog writes invalidate them at once (see catalog_changed).
FACET_CACHE_SECONDS = getattr(settings, "CATALOG_FACET_CACHE_SECONDS", 30)
_VERSION_KEY = "catalog:facets:version"
TEAM_FACET_LIMIT = 12  # the team facet lists the largest teams; the teams page has them all


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    selected: bool
    url: str = ""  # set by the view: this option toggled in the current query string


@dataclass
class Facet:
    name: str  # the query parameter
    label: str
    options: list[FacetOption]
    hidden: int = 0  # options left out of a long list


def catalog_changed() -> None:
    """Forget cached facet counts; the catalog services call this after every write."""
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:  # not set yet (or evicted)
        cache.set(_VERSION_KEY, 1, None)


def cached_facets(query: CatalogQuery, **kwargs) -> tuple[list[Facet], int]:
    """Facet counts are the expensive part of a page at 50,000 services; paging, sorting and
    every user asking the same question share them for FACET_CACHE_SECONDS. Catalog writes
    bump a version so they show at once; instance status changes written by the deployment
    workers show within the cache time.
    """
    version = cache.get(_VERSION_KEY, 0)
    filters = (query.q.lower(), query.team, query.kind, query.lifecycle)
    filters += (query.environment, query.status, query.fuzzy)
    digest = hashlib.sha1(repr((version, filters)).encode(), usedforsecurity=False).hexdigest()
    key = f"catalog:facets:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    result = _facets(query, **kwargs)
    cache.set(key, result, FACET_CACHE_SECONDS)
    return result


def _facets(query, *, team, team_id, environments, env_id) -> tuple[list[Facet], int]:
    """Team, kind, lifecycle, environment and status facets, plus the total of matching rows.

    Two grouped queries: (team, kind, lifecycle) combinations of the services that pass the
    search and instance filters, and (environment, status) pairs of the instances of services
    that pass the column filters.
    """
    # 1. Column facets: one GROUP BY over the combinations, summed per facet in Python.
    base = Service.objects.filter(
        service_q(query, team_id=team_id, skip=("team", "kind", "lifecycle"))
    )
    base = with_instance_filter(base, query, env_id)
    combos = list(
        base.values_list("owner_id", "kind", "lifecycle").annotate(n=Count("*")).order_by()
    )
    by_team, by_kind, by_lifecycle = Counter(), Counter(), Counter()
    for owner_id, kind, lifecycle, n in combos:
        team_ok = not query.team or owner_id == team_id
        kind_ok = not query.kind or kind == query.kind
        life_ok = not query.lifecycle or lifecycle == query.lifecycle
        if kind_ok and life_ok:
            by_team[owner_id] += n
        if team_ok and life_ok:
            by_kind[kind] += n
        if team_ok and kind_ok:
            by_lifecycle[lifecycle] += n
    # Every service has one kind, so the kind counts add up to the matching total.
    total = by_kind[query.kind] if query.kind else sum(by_kind.values())

    # 2. Instance facets.
    column_q = service_q(query, team_id=team_id)
    instances = ServiceInstance.objects.all()
    if column_q:
        instances = instances.filter(service__in=Service.objects.filter(column_q).values("pk"))
    pairs = Counter(
        {
            (env, status): n
            for env, status, n in instances.values_list("environment_id", "status")
            .annotate(n=Count("*"))
            .order_by()
        }
    )
    wanted = (query.status,) if query.status else DEPLOYED
    by_env = {env.pk: sum(pairs[(env.pk, s)] for s in wanted) for env in environments}
    # Status counts are service-environments ("Failed 3": three deployments of matching
    # services are failed), read from the same pairs: counting distinct services per status
    # was the slowest query of the page at 50,000 services.
    if query.environment:
        by_status = {s: pairs[(env_id, s)] for s in ServiceInstance.Status.values}
    else:
        by_status = Counter()
        for (_env, status), n in pairs.items():
            by_status[status] += n

    facets = [
        _team_facet(query, by_team, team),
        Facet(
            "kind",
            "Kind",
            [
                FacetOption(value, label, by_kind[value], query.kind == value)
                for value, label in Service.Kind.choices
            ],
        ),
        Facet(
            "lifecycle",
            "Lifecycle",
            [
                FacetOption(value, label, by_lifecycle[value], query.lifecycle == value)
                for value, label in Service.Lifecycle.choices
            ],
        ),
        Facet(
            "environment",
            "Deployed to",
            [
                FacetOption(env.slug, env.name, by_env[env.pk], query.environment == env.slug)
                for env in environments
            ],
        ),
        Facet(
            "status",
            "Status (per environment)",
            [
                FacetOption(value, label, by_status.get(value, 0), query.status == value)
                for value, label in ServiceInstance.Status.choices
            ],
        ),
    ]
    return facets, total


def _team_facet(query: CatalogQuery, by_team: Counter, team: Team | None) -> Facet:
    top = [pk for pk, _ in by_team.most_common(TEAM_FACET_LIMIT)]
    if team and team.pk not in top:
        top.append(team.pk)
    labels = {
        pk: (slug, name)
        for pk, slug, name in Team.objects.filter(pk__in=top).values_list("pk", "slug", "name")
    }
    options = [
        FacetOption(labels[pk][0], labels[pk][1], by_team[pk], query.team == labels[pk][0])
        for pk in top
        if pk in labels
    ]
    if query.team and team is None:
        options.append(FacetOption(query.team, query.team, 0, True))
    return Facet("team", "Team", options, hidden=max(0, len(by_team) - len(top)))
