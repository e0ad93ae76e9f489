"""The catalog search: full-text-ish search, facets with counts, sort and keyset pagination.

`catalog_page()` answers a `CatalogQuery` with one page of rows, shaped for the template, and
the facet counts, in the same handful of queries for 10 services or 50,000 (see
bench/catalog.py). Rows are plain data so the template does little work per row.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from catalog.models import Environment, Service, ServiceInstance, Team

PAGE_SIZE = 50
# How long facet counts are reused; catalog writes invalidate them at once (see catalog_changed).
FACET_CACHE_SECONDS = getattr(settings, "CATALOG_FACET_CACHE_SECONDS", 30)
_VERSION_KEY = "catalog:facets:version"
TEAM_FACET_LIMIT = 12  # the team facet lists the largest teams; the teams page has them all
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


@dataclass
class EnvStatus:
    slug: str
    name: str
    status: str  # "none" when the service is not deployed there
    label: str


@dataclass
class CatalogRow:
    """One catalog row, precomputed so the template only prints values."""

    service: Service
    url: str
    kind_label: str
    kind_icon: str
    lifecycle_label: str
    owner_url: str
    envs: list[EnvStatus]
    last_deploy: datetime | None
    last_deploy_label: str


@dataclass
class CatalogPage:
    rows: list[CatalogRow]
    facets: list[Facet]
    total: int
    next_cursor: str = ""
    environments: list[Environment] = field(default_factory=list)


KIND_ICONS = {
    "lambda": "λ",
    "ecs": "▣",
    "apigateway": "⇄",
    "dynamodb": "▤",
    "stepfunctions": "⑂",
    "sns": "✉",
}
_KIND_LABELS = dict(Service.Kind.choices)
_LIFECYCLE_LABELS = dict(Service.Lifecycle.choices)
_STATUS_LABELS = dict(ServiceInstance.Status.choices)


def ago(when: datetime | None, now: datetime) -> str:
    """A short relative time ("5 min ago"); cheaper than the timesince filter on 50 rows."""
    if when is None:
        return ""
    seconds = (now - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 30 * 86400:
        return f"{int(seconds // 86400)} d ago"
    return when.strftime("%Y-%m-%d")


def _search_q(text: str) -> Q:
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


def _service_q(query: CatalogQuery, *, team_id, skip: tuple[str, ...] = ()) -> Q:
    """Conditions on Service columns: search, team, kind, lifecycle (minus the skipped ones)."""
    condition = _search_q(query.q) if query.q else Q()
    if query.team and "team" not in skip:
        condition &= Q(owner_id=team_id)
    if query.kind and "kind" not in skip:
        condition &= Q(kind=query.kind)
    if query.lifecycle and "lifecycle" not in skip:
        condition &= Q(lifecycle=query.lifecycle)
    return condition


def _instance_q(query: CatalogQuery, *, environment_id) -> Q | None:
    """Which instance a service needs to match the environment/status filters (None: any)."""
    if not (query.environment or query.status):
        return None
    condition = Q(status=query.status) if query.status else Q(status__in=DEPLOYED)
    if query.environment:
        condition &= Q(environment_id=environment_id)
    return condition


def _cursor(service: Service, sort: str) -> str:
    if sort in ("name", "-name"):
        return service.slug
    micros = int(service.created_at.timestamp() * 1_000_000)
    return f"{micros}.{service.pk}"


def _after_q(query: CatalogQuery) -> Q:
    """Keyset pagination: rows strictly after the cursor in the chosen order (no OFFSET)."""
    if not query.after:
        return Q()
    if query.sort == "name":
        return Q(slug__gt=query.after)
    if query.sort == "-name":
        return Q(slug__lt=query.after)
    micros, _, pk = query.after.partition(".")
    try:
        created = datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC)
        pk = int(pk)
    except (ValueError, OverflowError):
        return Q()
    if query.sort == "newest":
        return Q(created_at__lt=created) | Q(created_at=created, pk__lt=pk)
    return Q(created_at__gt=created) | Q(created_at=created, pk__gt=pk)


ORDERINGS = {
    "name": ["slug"],
    "-name": ["-slug"],
    "newest": ["-created_at", "-pk"],
    "oldest": ["created_at", "pk"],
}


def catalog_page(*, query: CatalogQuery) -> CatalogPage:
    """One page of the catalog and its facet counts (at most seven queries, whatever the size).

    Facet counts follow the usual rule: each facet is counted under every *other* active
    filter, so its options say what choosing them would give.
    """
    environments = list(Environment.objects.all())
    env_by_slug = {env.slug: env for env in environments}
    team = None
    if query.team:
        team = Team.objects.filter(slug=query.team).only("pk", "slug", "name").first()
    team_id = team.pk if team else -1  # an unknown team matches nothing, visibly
    environment = env_by_slug.get(query.environment)
    environment_id = environment.pk if environment else -1

    rows = _rows(query, team_id=team_id, environment_id=environment_id)
    facets, total = _cached_facets(
        query, team=team, team_id=team_id, environments=environments, env_id=environment_id
    )
    next_cursor = ""
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_cursor = _cursor(rows[-1], query.sort)
    return CatalogPage(
        rows=_shape(rows, environments),
        facets=facets,
        total=total,
        next_cursor=next_cursor,
        environments=environments,
    )


def catalog_changed() -> None:
    """Forget cached facet counts; the catalog services call this after every write."""
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:  # not set yet (or evicted)
        cache.set(_VERSION_KEY, 1, None)


def _cached_facets(query: CatalogQuery, **kwargs) -> tuple[list[Facet], int]:
    """Facet counts are the expensive part of a page at 50,000 services; paging, sorting and
    every user asking the same question share them for FACET_CACHE_SECONDS. Catalog writes
    bump a version so they show at once; instance status changes written by the deployment
    workers show within the cache time.
    """
    version = cache.get(_VERSION_KEY, 0)
    filters = (query.q.lower(), query.team, query.kind, query.lifecycle)
    filters += (query.environment, query.status)
    digest = hashlib.sha1(repr((version, filters)).encode(), usedforsecurity=False).hexdigest()
    key = f"catalog:facets:{digest}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    result = _facets(query, **kwargs)
    cache.set(key, result, FACET_CACHE_SECONDS)
    return result


def _with_instance_filter(qs: QuerySet, query: CatalogQuery, environment_id) -> QuerySet:
    instance_q = _instance_q(query, environment_id=environment_id)
    if instance_q is None:
        return qs
    matching = ServiceInstance.objects.filter(instance_q, service_id=OuterRef("pk"))
    return qs.filter(Exists(matching))


def _rows(query: CatalogQuery, *, team_id, environment_id) -> list[Service]:
    qs = Service.objects.filter(_service_q(query, team_id=team_id), _after_q(query))
    qs = _with_instance_filter(qs, query, environment_id)
    qs = (
        qs.select_related("owner")
        .only(
            "pk",
            "slug",
            "name",
            "kind",
            "lifecycle",
            "description",
            "tags",
            "created_at",
            "owner__slug",
            "owner__name",
        )
        .prefetch_related(
            Prefetch(
                "instances",
                queryset=ServiceInstance.objects.only(
                    "pk", "service_id", "environment_id", "status"
                ),
            )
        )
        .order_by(*ORDERINGS[query.sort])
    )
    return list(qs[: PAGE_SIZE + 1])


def _shape(services: list[Service], environments: list[Environment]) -> list[CatalogRow]:
    """Rows for the template, with each service's last deployment (one grouped query)."""
    from deployments.models import Deployment

    if not services:
        return []
    latest = dict(
        Deployment.objects.filter(instance__service_id__in=[s.pk for s in services])
        .values_list("instance__service_id")
        .annotate(last=Max("created_at"))
        .order_by()
    )
    now = timezone.now()
    # reverse() once, not per row: it is a measurable share of the page at 50 rows.
    service_url = reverse("catalog:service_detail", args=["slug-here"]).replace("slug-here", "{}")
    team_url = reverse("catalog:team_detail", args=["slug-here"]).replace("slug-here", "{}")
    rows = []
    for service in services:
        by_env = {i.environment_id: i.status for i in service.instances.all()}
        envs = []
        for env in environments:
            status = by_env.get(env.pk, "not_deployed")
            if status == "not_deployed":
                envs.append(EnvStatus(env.slug, env.name, "none", "not deployed"))
            else:
                envs.append(EnvStatus(env.slug, env.name, status, _STATUS_LABELS[status]))
        last = latest.get(service.pk)
        rows.append(
            CatalogRow(
                service=service,
                url=service_url.format(service.slug),
                kind_label=_KIND_LABELS.get(service.kind, service.kind),
                kind_icon=KIND_ICONS.get(service.kind, "◇"),
                lifecycle_label=_LIFECYCLE_LABELS.get(service.lifecycle, service.lifecycle),
                owner_url=team_url.format(service.owner.slug),
                envs=envs,
                last_deploy=last,
                last_deploy_label=ago(last, now),
            )
        )
    return rows


def _facets(query, *, team, team_id, environments, env_id) -> tuple[list[Facet], int]:
    """Team, kind, lifecycle, environment and status facets, plus the total of matching rows.

    Two grouped queries: (team, kind, lifecycle) combinations of the services that pass the
    search and instance filters, and (environment, status) pairs of the instances of services
    that pass the column filters.
    """
    # 1. Column facets: one GROUP BY over the combinations, summed per facet in Python.
    base = Service.objects.filter(
        _service_q(query, team_id=team_id, skip=("team", "kind", "lifecycle"))
    )
    base = _with_instance_filter(base, query, env_id)
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
    column_q = _service_q(query, team_id=team_id)
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
