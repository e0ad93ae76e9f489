"""Reads for the API's list endpoints, in a fixed number of queries whatever the catalog size."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

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


# One service of a list as JSON text, written by PostgreSQL (api.schemas.ServiceOut's fields in
# its order; created_at as Django's JSON encoder writes it: milliseconds, none when zero, "Z").
_UTC = "r.\"created_at\" AT TIME ZONE 'UTC'"
_ROW_JSON = (
    "(SELECT row_to_json(j)::text FROM (SELECT "
    + ", ".join(
        f'r."{name}" AS "{name.replace("owner__slug", "owner")}"'
        for name in SERVICE_FIELDS
        if name != "created_at"
    )
    + f""", to_char({_UTC}, 'YYYY-MM-DD"T"HH24:MI:SS')"""
    + """ || CASE WHEN mod(extract(microseconds FROM r."created_at")::bigint, 1000000) = 0"""
    + f""" THEN '' ELSE to_char({_UTC}, '.MS') END || 'Z' AS "created_at") j)"""
)


@dataclass
class ServicePage:
    results_json: str  # a JSON array of SERVICE_FIELDS objects, "owner__slug" as "owner"
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

    if connection.vendor == "postgresql":
        rows = _rows_with_json(query, team_id=team_id, env_id=env_id, limit=limit)
        results_json = "[" + ",".join(row["json"] for row in rows[:limit]) + "]"
    else:
        rows = list(_page_values(query, team_id=team_id, env_id=env_id, limit=limit))
        results_json = json.dumps(
            [
                {n.replace("owner__slug", "owner"): r[n] for n in SERVICE_FIELDS}
                for r in rows[:limit]
            ],
            cls=DjangoJSONEncoder,
        )
    next_cursor = search.cursor_for(rows[limit - 1], query.order) if len(rows) > limit else None
    # Environments are read only when the counts are not cached (the facets list them).
    facets, total = search.cached_facets(
        query, team=team, team_id=team_id, environments=None, env_id=env_id
    )
    return ServicePage(
        results_json=results_json, next_cursor=next_cursor, count=total, facets=facets
    )


def _page_values(query: search.CatalogQuery, *, team_id, env_id, limit: int):
    """The page's statement (search, filters, keyset, order; one row more than the page)."""
    qs = search.matching(query, team_id=team_id, environment_id=env_id)
    fields = (*SERVICE_FIELDS, "pk")
    if query.order == "relevance":
        fields += ("rank",)
    return qs.values(*fields)[: limit + 1]


# Built statements by everything they are built from (the query, the ids its slugs named, the
# page size): the same question asked again, a client paging with the same cursor, skips the
# ORM's building of it (a fifth of a call's CPU). The statement still runs every time.
# (`catalog.search.matching` is a function of these alone: no clock, no settings.)
_statements: dict[tuple, tuple[str, tuple, list[str]]] = {}
_STATEMENTS_MAX = 500
_QUERY_FIELDS = [f.name for f in dataclass_fields(search.CatalogQuery)]


def _rows_with_json(query: search.CatalogQuery, *, team_id, env_id, limit: int) -> list[dict]:
    """The page's rows, each as PostgreSQL writes it in JSON ("json"), and the values its
    cursor is made of (the order's keys: slug, rank, created_at, pk).

    Reading 50-200 rows into Python values (dates parsed, tags decoded) only to write them
    out again as JSON was a third of an API call's CPU; PostgreSQL writes the same objects
    (api/tests pin them to the values-based rendering). The page's own statement (search,
    filters, keyset, order, limit) is the ORM's, wrapped.
    """
    key = (*(getattr(query, name) for name in _QUERY_FIELDS), team_id, env_id, limit)
    statement = _statements.get(key)
    if statement is None:
        sql, params = _page_values(
            query, team_id=team_id, env_id=env_id, limit=limit
        ).query.sql_with_params()
        ordering = search.ORDERINGS[query.order]
        order_by = ", ".join(
            f'r."{k.lstrip("-")}" {"DESC" if k.startswith("-") else "ASC"}' for k in ordering
        )
        names = list(dict.fromkeys(["slug", *(k.lstrip("-") for k in ordering)]))
        columns = ", ".join(f'r."{name}"' for name in names)
        wrapped = f"SELECT {columns}, {_ROW_JSON} FROM ({sql}) r ORDER BY {order_by}"
        statement = (wrapped, tuple(params), [*names, "json"])
        if len(_statements) >= _STATEMENTS_MAX:
            _statements.clear()
        _statements[key] = statement
    sql, params, names = statement
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
