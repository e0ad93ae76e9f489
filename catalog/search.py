"""The catalog list: one page of rows, shaped for the template, with its filter counts.

`catalog_page()` answers a `CatalogQuery` in the same handful of queries for 10 services or
50,000 (see bench/catalog.py). Each row is written here as one HTML text (its ~15 values
escaped with html.escape, as Django's templates escape): printing ~750 values through the
template engine, each escaped into a Markup object, was a third of the page's CPU. URLs are
formatted from one reversed pattern, not reversed per row, and each row's monitoring strips are
rendered by `strip_html` from one cache read for the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from html import escape as esc

from django.db import connection
from django.db.models import FloatField, Max, Q, QuerySet, Value
from django.urls import reverse
from django.utils import timezone
from markupsafe import Markup, escape

# Facet, FacetOption and catalog_changed are re-exported (the API and the services use them).
from catalog.facets import (  # noqa: F401
    Facet,
    FacetOption,
    cached_facets,
    catalog_changed,
    counted_with_page,
    facets_lookup,
    facets_patch,
    facets_store,
    one_pass,
)
from catalog.filters import (  # noqa: F401 — SORTS re-exported
    SORTS,
    CatalogQuery,
    rank,
    search_q,
    search_tokens,
    service_q,
    with_instance_filter,
    with_monthly_cost,
)
from catalog.models import Environment, Service, ServiceInstance, Team

PAGE_SIZE = 50
FUZZY_THRESHOLD = 0.5  # pg_trgm word similarity of a close match (a typo)


@dataclass
class CatalogPage:
    rows: list[dict]
    facets: list
    total: int
    next_cursor: str = ""
    environments: list[Environment] = field(default_factory=list)
    fuzzy: bool = False  # no exact match: these are close matches (a typo?)


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
_NO_STRIP = ("not_deployed", "deleted")  # no monitoring strip for these


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


def cursor_for(service, sort: str) -> str:
    """The keyset cursor after `service` (a Service, or a row dict) in the `sort` order."""

    def get(name):
        return service[name] if isinstance(service, dict) else getattr(service, name)

    if sort in ("name", "-name"):
        return get("slug")
    if sort == "relevance":
        return f"{get('rank')!r}~{get('slug')}"
    if sort == "cost":
        return f"{get('monthly_cost')}~{get('slug')}"
    micros = int(get("created_at").timestamp() * 1_000_000)
    return f"{micros}.{get('pk')}"


def _after_q(query: CatalogQuery) -> Q:
    """Keyset pagination: rows strictly after the cursor in the chosen order (no OFFSET)."""
    if not query.after:
        return Q()
    sort = query.order
    if sort == "name":
        return Q(slug__gt=query.after)
    if sort == "-name":
        return Q(slug__lt=query.after)
    if sort == "relevance":
        rank, _, slug = query.after.partition("~")
        try:
            rank = float(rank)
        except ValueError:
            return Q()
        return Q(rank__lt=rank) | Q(rank=rank, slug__gt=slug)
    if sort == "cost":
        cost, _, slug = query.after.partition("~")
        try:
            cost = Decimal(cost)
        except InvalidOperation:
            return Q()
        # NaN, Infinity or 1e999999999 (PostgreSQL refuses it): no such cursor is ever written.
        if not cost.is_finite() or cost.adjusted() > 20:
            return Q()
        return Q(monthly_cost__lt=cost) | Q(monthly_cost=cost, slug__gt=slug)
    micros, _, pk = query.after.partition(".")
    try:
        created = datetime.fromtimestamp(int(micros) / 1_000_000, tz=UTC)
        pk = int(pk)
    except (ValueError, OverflowError):
        return Q()
    if sort == "newest":
        return Q(created_at__lt=created) | Q(created_at=created, pk__lt=pk)
    return Q(created_at__gt=created) | Q(created_at=created, pk__gt=pk)


ORDERINGS = {
    "relevance": ["-rank", "slug"],
    "name": ["slug"],
    "-name": ["-slug"],
    "newest": ["-created_at", "-pk"],
    "oldest": ["created_at", "pk"],
    "cost": ["-monthly_cost", "slug"],
}


def matching(query: CatalogQuery, *, team_id, environment_id) -> QuerySet[Service]:
    """Services matching `query`, after its cursor, in its order (the page and the API)."""
    qs = Service.objects.filter(service_q(query, team_id=team_id))
    qs = with_instance_filter(qs, query, environment_id)
    if query.order == "relevance":
        # SQLite has no ranking: its "best match" is the name order.
        ranked = connection.vendor == "postgresql"
        qs = qs.annotate(rank=rank(query) if ranked else Value(0.0, output_field=FloatField()))
    if query.order == "cost":
        qs = with_monthly_cost(qs)
    return qs.filter(_after_q(query)).order_by(*ORDERINGS[query.order])


def _no_exact_match(query: CatalogQuery) -> bool:
    """True when no service has every word of the search (then close matches are shown)."""
    if not query.q or query.fuzzy or connection.vendor != "postgresql":
        return False
    if not search_tokens(query.q):
        return False
    if Service.objects.filter(search_q(query.q)).exists():
        return False
    with connection.cursor() as cursor:
        # pg_trgm's default (0.6) misses one-letter typos in short words ("chekout" is 0.55
        # from "Checkout"); 0.5 still keeps unrelated names out. Only `%>` reads it.
        cursor.execute("SET pg_trgm.word_similarity_threshold = %s", [FUZZY_THRESHOLD])
    return True


def catalog_page(*, query: CatalogQuery) -> CatalogPage:
    """One page of the catalog and its facet counts (at most seven queries, whatever the size)."""
    environments = all_environments()
    env_by_slug = {env.slug: env for env in environments}
    team = None
    if query.team:
        team = _team_by_slug(query.team)
    team_id = team.pk if team else -1  # an unknown team matches nothing, visibly
    environment = env_by_slug.get(query.environment)
    environment_id = environment.pk if environment else -1

    lookup = facets_lookup(query)
    counts = dict(team=team, team_id=team_id, environments=environments, env_id=environment_id)
    if lookup.found is None and lookup.stale:  # counted before a write: patched if it can be
        lookup.found = facets_patch(lookup, query, **counts)
    if lookup.found is None and one_pass(query):
        # A search whose counts are not cached: its first page and counts in one statement.
        services, counted = _services_and_counts(query, team_id=team_id)
        if services:
            lookup.found = facets_store(lookup, query, counted=counted, **counts)
    else:
        services = _services(query, team_id=team_id, environment_id=environment_id)
    if not services and _no_exact_match(query):  # a typo? names that come close, best first
        query = replace(query, fuzzy=True)
        services = _services(query, team_id=team_id, environment_id=environment_id)
        lookup = facets_lookup(query)
    facets, total = lookup.found or facets_store(lookup, query, **counts)
    next_cursor = ""
    if len(services) > PAGE_SIZE:
        services = services[:PAGE_SIZE]
        next_cursor = cursor_for(services[-1], query.order)
    return CatalogPage(
        rows=_shape(services, environments),
        facets=facets,
        total=total,
        next_cursor=next_cursor,
        environments=environments,
        fuzzy=query.fuzzy,
    )


def _services_and_counts(query: CatalogQuery, *, team_id) -> tuple[list[dict], tuple]:
    """The first page of a search (`one_pass`) and its (combinations, pairs, since) to count
    facets from: one statement reads the matches, then the page's rows by primary key."""
    matching_qs = matching(query, team_id=team_id, environment_id=-1)
    combos, pairs, found, since = counted_with_page(matching_qs, limit=PAGE_SIZE + 1)
    rows = {
        row["pk"]: row
        for row in Service.objects.filter(pk__in=[pk for pk, _ in found]).values(*_ROW_FIELDS)
    }
    services = []
    for pk, score in found:
        if pk in rows:  # deleted since: skipped, as the next page would not show it either
            services.append({**rows[pk], "rank": score})
    return _with_instances(services), (combos, pairs, since)


def _services(query: CatalogQuery, *, team_id, environment_id) -> list[dict]:
    """The page's services as dicts (no model instances: ~4x cheaper for 50 rows), each with
    its instances and last deployment (see `_page_statement`: one statement for the page)."""
    if connection.vendor != "postgresql":
        return _with_instances(list(_page_values(query, team_id, environment_id)))
    sql, params, names = _page_statement(query, team_id=team_id, environment_id=environment_id)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (page,) = cursor.fetchone()
    services = [dict(zip(names, row, strict=True)) for row in page or ()]
    for service in services:
        for name in ("created_at", "last_deploy"):
            if service.get(name) is not None:
                service[name] = _EPOCH + timedelta(microseconds=service[name])
        if "monthly_cost" in service:
            service["monthly_cost"] = Decimal(service["monthly_cost"])
    return services


def _row_fields(query: CatalogQuery) -> tuple[str, ...]:
    return {"relevance": (*_ROW_FIELDS, "rank"), "cost": (*_ROW_FIELDS, "monthly_cost")}.get(
        query.order, _ROW_FIELDS
    )


def _page_values(query: CatalogQuery, team_id, environment_id) -> QuerySet:
    qs = matching(query, team_id=team_id, environment_id=environment_id)
    return qs.values(*_row_fields(query))[: PAGE_SIZE + 1]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The page as one JSON array PostgreSQL writes, one array of values per service: the ORM's
# page statement (search, filters, keyset, order, one row more than the page), and beside each
# service its instances as [environment_id, status, pk] and the newest deployment of any of
# them. One JSON text decoded at once costs a tenth of psycopg loading the same ~700 values
# cell by cell (each date ~7 us, each JSON cell ~3 us): dates travel as microseconds since the
# epoch, the cost sort's figure as text (a Decimal, not a float), the rank as float8 (its
# shortest exact text, so the keyset cursor compares equal).
_MICROS = "(extract(epoch FROM {}) * 1000000)::bigint"
_PAGE_SQL = (
    "SELECT json_agg(json_build_array({}, "
    '(SELECT json_agg(json_build_array(i."environment_id", i."status", i."id")) '
    'FROM "catalog_serviceinstance" i WHERE i."service_id" = r."pk"), '
    "(SELECT " + _MICROS.format('max(d."created_at")') + ' FROM "deployments_deployment" d '
    'JOIN "catalog_serviceinstance" i ON d."instance_id" = i."id" '
    'WHERE i."service_id" = r."pk")) ORDER BY {}) '
    "FROM ({}) r"
)
_COLUMNS = {
    "created_at": _MICROS.format('r."created_at"'),
    "monthly_cost": 'r."monthly_cost"::text',
}
# Built page statements by everything they are built from (the query, the ids its slugs named):
# a page asked again (the first page, a filter, "Next page" with the same cursor) skips the
# ORM's building of it, as the API's lists do (api.selectors). The statement runs every time.
# (`matching` is a function of these alone: no clock, no settings.)
_statements: dict[tuple, tuple[str, tuple, list[str]]] = {}
_STATEMENTS_MAX = 500
_QUERY_FIELDS = [f.name for f in fields(CatalogQuery)]


def _page_statement(
    query: CatalogQuery, *, team_id, environment_id
) -> tuple[str, tuple, list[str]]:
    key = (*(getattr(query, name) for name in _QUERY_FIELDS), team_id, environment_id)
    statement = _statements.get(key)
    if statement is None:
        sql, params = _page_values(query, team_id, environment_id).query.sql_with_params()
        names = list(_row_fields(query))
        if query.order not in ("newest", "oldest"):  # only their cursor is made of the date
            names.remove("created_at")
        columns = ", ".join(_COLUMNS.get(name, f'r."{name}"') for name in names)
        order_by = ", ".join(
            f'r."{k.lstrip("-")}" {"DESC" if k.startswith("-") else "ASC"}'
            for k in ORDERINGS[query.order]
        )
        sql = _PAGE_SQL.format(columns, order_by, sql)
        statement = (sql, tuple(params), [*names, "instances", "last_deploy"])
        if len(_statements) >= _STATEMENTS_MAX:
            _statements.clear()
        _statements[key] = statement
    return statement


def _with_instances(services: list[dict]) -> list[dict]:
    """`services` with "instances" and "last_deploy" as `_services` reads them in one
    statement, from a query of their own (the search's first page, SQLite)."""
    by_pk = {service["pk"]: service for service in services}
    for service in services:
        service["instances"], service["last_deploy"] = [], None
    for pk, service_id, environment_id, status, last in (
        ServiceInstance.objects.filter(service_id__in=list(by_pk))
        .values_list("pk", "service_id", "environment_id", "status")
        .annotate(last=Max("deployments__created_at"))
        .order_by()
    ):
        service = by_pk[service_id]
        service["instances"].append((environment_id, status, pk))
        if last is not None and (service["last_deploy"] is None or last > service["last_deploy"]):
            service["last_deploy"] = last
    return services


def all_environments() -> list[Environment]:
    """Every environment in their order, as the catalog page uses them (pk, slug, name, order;
    the other fields are deferred), without building the statement each page."""
    with connection.cursor() as cursor:
        cursor.execute(_ENVIRONMENTS_SQL)
        rows = cursor.fetchall()
    return [Environment.from_db(connection.alias, _ENVIRONMENT_FIELDS, row) for row in rows]


_ENVIRONMENT_FIELDS = ["id", "slug", "name", "order"]
_ENVIRONMENTS_SQL = (
    'SELECT "id", "slug", "name", "order" FROM "catalog_environment" ORDER BY "order", "slug"'
)


def _team_by_slug(slug: str) -> Team | None:
    """The owner filter's team (pk, slug, name), without building the statement each time."""
    with connection.cursor() as cursor:
        cursor.execute('SELECT "id", "slug", "name" FROM "catalog_team" WHERE "slug" = %s', [slug])
        row = cursor.fetchone()
    return Team.from_db(connection.alias, ["id", "slug", "name"], row) if row else None


_ROW_FIELDS = (
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


def _truncate(text: str, length: int) -> str:
    """As the truncatechars filter (length counts the ellipsis), without its per-call setup."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _pattern(name: str) -> str:
    """A URL pattern with `{}` where the slug goes: reverse() once per page, not per row."""
    return reverse(name, args=["slug-here"]).replace("slug-here", "{}")


class _Cells:
    """The kind, lifecycle and environment cells of the rows as HTML, each distinct one
    formatted once per page: 50 rows show a few dozen different cells, and printing them from
    the template cost ~20 escaped values a row."""

    def __init__(self, environments: list[Environment]):
        self.environments = [(escape(env.slug), escape(env.name)) for env in environments]
        self.memo: dict = {}

    def kind(self, kind: str) -> Markup:
        key = ("kind", kind)
        if key not in self.memo:
            icon, label = KIND_ICONS.get(kind, "◇"), _KIND_LABELS.get(kind, kind)
            self.memo[key] = Markup(
                '<span class="kind kind-{}"><span class="kind-icon" aria-hidden="true">{}</span> '
                "{}</span>"
            ).format(kind, icon, label)
        return self.memo[key]

    def lifecycle(self, lifecycle: str) -> Markup:
        key = ("lifecycle", lifecycle)
        if key not in self.memo:
            label = _LIFECYCLE_LABELS.get(lifecycle, lifecycle)
            self.memo[key] = Markup('<span class="lifecycle lifecycle-{}">{}</span>').format(
                lifecycle, label
            )
        return self.memo[key]

    def envs(self, statuses: tuple[str, ...]) -> Markup:
        """The environment list for one status per environment ("" where there is no
        instance, as "not_deployed")."""
        if statuses not in self.memo:
            items = []
            for (slug, name), status in zip(self.environments, statuses, strict=True):
                if status in ("", "not_deployed"):
                    items.append(
                        f'<li class="env-status status-none" title="{name}: not deployed">'
                        f'<span class="env">{slug}</span> <span class="visually-hidden">not '
                        'deployed</span><span aria-hidden="true">–</span></li>'
                    )
                else:
                    status, label = escape(status), escape(_STATUS_LABELS[status])
                    items.append(
                        f'<li class="env-status status-{status}" title="{name}: {label}">'
                        f'<span class="env">{slug}</span> {label}</li>'
                    )
            self.memo[statuses] = Markup(f'<ul class="env-statuses">{"".join(items)}</ul>')
        return self.memo[statuses]


def _shape(services: list[dict], environments: list[Environment]) -> list[dict]:
    """Rows for the template: the service's name and the row's HTML (templates/jinja2/catalog/
    _rows.html prints it), strips rendered from one cache read."""
    from costs.templatetags.costs import usd
    from monitoring.selectors import summaries_by_pk
    from monitoring.templatetags.monitoring import strip_html, strip_patterns

    if not services:
        return []
    env_order = {env.pk: n for n, env in enumerate(environments)}
    # (env order, env id, status, instance pk) of each service, in the environments' order.
    instances = [
        sorted((env_order[env_id], env_id, status, pk) for env_id, status, pk in found)
        for found in (service["instances"] or () for service in services)
    ]
    summaries = summaries_by_pk(  # the monitoring strips: one cache round trip for the page
        found[3] for rows in instances for found in rows if found[2] not in _NO_STRIP
    )
    now = timezone.now()
    service_url, team_url = _pattern("catalog:service_detail"), _pattern("catalog:team_detail")
    patterns = strip_patterns()
    rows = []
    cells = _Cells(environments)
    env_pks = [env.pk for env in environments]
    for service, found in zip(services, instances, strict=True):
        by_env = {environment_id: status for _, environment_id, status, _ in found}
        last = service["last_deploy"]
        name, description = esc(service["name"]), _truncate(service["description"], 90)
        tags = service["tags"][:4]
        strips = "".join(
            strip_html(
                service_slug=service["slug"],
                instance_pk=pk,
                summary=summaries.get(pk),
                compact=True,
                patterns=patterns,
            )
            for _, _, status, pk in found
            if status not in _NO_STRIP
        )
        # Only when sorted by cost (the sum of the instances' stored estimates).
        cost = usd(service["monthly_cost"]) if "monthly_cost" in service else ""
        html = (
            f'<tr>\n<td class="service-cell"><a class="service-name" '
            f'href="{esc(service_url.format(service["slug"]))}">{name}</a>'
            + (f'<div class="small muted">{esc(description)}</div>' if description else "")
            + (f'<div class="small muted">about {esc(cost)}/month</div>' if cost else "")
            + (
                '<ul class="tags" aria-label="Tags">'
                + "".join(f"<li>{esc(str(tag))}</li>" for tag in tags)
                + "</ul>"
                if tags
                else ""
            )
            + (f'<span class="mon-summaries-inline">{strips}</span>' if strips else "")
            + f"</td>\n<td>{cells.kind(service['kind'])}</td>\n"
            f'<td><a href="{esc(team_url.format(service["owner__slug"]))}">'
            f"{esc(service['owner__name'])}</a></td>\n"
            f"<td>{cells.lifecycle(service['lifecycle'])}</td>\n"
            f"<td>{cells.envs(tuple(by_env.get(pk, '') for pk in env_pks))}</td>\n"
            + (
                f'<td><time datetime="{last.isoformat()}">{ago(last, now)}</time></td>\n'
                if last
                else '<td><span class="muted">never</span></td>\n'
            )
            + "</tr>\n"
        )
        rows.append({"name": service["name"], "html": Markup(html)})  # noqa: S704 — escaped
    return rows
