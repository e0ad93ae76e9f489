"""What the catalog was asked (`CatalogQuery`) and the conditions that answer it.

Shared by the rows (catalog/search.py) and the filter counts (catalog/facets.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import TrigramWordSimilarity
from django.db import connection
from django.db.models import (
    DecimalField,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from catalog.fields import Rank
from catalog.models import Service, ServiceInstance

# An instance in one of these states has something running (or trying to) in AWS.
DEPLOYED = (
    ServiceInstance.Status.HEALTHY,
    ServiceInstance.Status.DEPLOYING,
    ServiceInstance.Status.FAILED,
    ServiceInstance.Status.DRIFTED,
)
SORTS = {
    "relevance": "Best match",
    "name": "Name A–Z",
    "-name": "Name Z–A",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "cost": "Monthly cost (highest first)",
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
    # Set by the catalog when no service matches the words: close matches by trigram
    # similarity instead (a typo), never from the query string.
    fuzzy: bool = False

    @classmethod
    def from_params(cls, params) -> CatalogQuery:
        def pick(name, allowed):
            value = params.get(name, "").strip()
            return value if value in allowed else ""

        q = " ".join(params.get("q", "").split())[:100]
        sort = params.get("sort", "")
        if sort not in SORTS:
            sort = "relevance"  # best matches first when searching, else by name (see order)
        return cls(
            q=q,
            team=params.get("team", "").strip()[:50],
            kind=pick("kind", Service.Kind.values),
            lifecycle=pick("lifecycle", Service.Lifecycle.values),
            environment=params.get("environment", "").strip()[:50],
            status=pick("status", ServiceInstance.Status.values),
            sort=sort,
            after=params.get("after", "").strip()[:120],
        )

    @property
    def order(self) -> str:
        """The sort in effect: "Best match" without search words is the name order."""
        if self.sort == "relevance" and not search_tokens(self.q):
            return "name"
        return self.sort

    @property
    def is_filtered(self) -> bool:
        return any([self.q, self.team, self.kind, self.lifecycle, self.environment, self.status])


def search_tokens(text: str) -> list[str]:
    """The words of a search as letters and digits only ("tier-1" → tier, 1), at most 8."""
    return re.findall(r"[^\W_]+", text.lower())[:8]


def tsquery(text: str) -> str:
    """Every word, as a prefix: "ledg pay" → "ledg:* & pay:*" (only letters and digits reach
    to_tsquery, so no input can be a tsquery syntax error)."""
    return " & ".join(f"{token}:*" for token in search_tokens(text))


def search_q(text: str, *, fuzzy: bool = False) -> Q:
    """Services whose slug, name, tags or description contain every word (as a word prefix).

    PostgreSQL: the GIN-indexed `tsvector` (catalog/fields.py); with `fuzzy`, names with a
    word close to the text (pg_trgm word similarity, GIN-indexed) for typos. SQLite (the
    development default): LIKE on the lowercased document, one per word.
    """
    tokens = search_tokens(text)
    if not tokens:
        return Q()
    if connection.vendor != "postgresql":
        condition = Q()
        for token in tokens:
            condition &= Q(search_document__contains=token)
        return condition
    if fuzzy:
        return Q(TrigramWordSimilar(F("name"), Value(text)))
    return Q(search_document__matches=tsquery(text))


def rank(query: CatalogQuery):
    """How well a service matches the search (PostgreSQL), for the "Best match" sort."""
    if query.fuzzy:
        # A double, as Rank: the keyset cursor compares it for equality.
        return Cast(TrigramWordSimilarity(Value(query.q), F("name")), FloatField())
    return Rank(F("search_document"), tsquery(query.q))


def service_q(query: CatalogQuery, *, team_id, skip: tuple[str, ...] = ()) -> Q:
    """Conditions on Service columns: search, team, kind, lifecycle (minus the skipped ones)."""
    condition = search_q(query.q, fuzzy=query.fuzzy) if query.q else Q()
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


MONEY = DecimalField(max_digits=14, decimal_places=2)


def instance_cost_sum(group: str) -> Subquery:
    """The sum of the stored monthly estimates (costs app) of the instances whose `group`
    (e.g. "service_id" or "service__owner_id") is the outer row's pk; NULL when none."""
    per_group = (
        ServiceInstance.objects.filter(**{group: OuterRef("pk")})
        .order_by()
        .values(group)
        .annotate(total=Sum("cost__monthly_usd"))
        .values("total")
    )
    return Subquery(per_group, output_field=MONEY)


def with_monthly_cost(qs: QuerySet) -> QuerySet:
    """Annotate `monthly_cost`: the sum of the instances' stored estimates (0 without any)."""
    zero = Value(Decimal(0))
    return qs.annotate(
        monthly_cost=Coalesce(instance_cost_sum("service_id"), zero, output_field=MONEY)
    )


def with_instance_filter(qs: QuerySet, query: CatalogQuery, environment_id) -> QuerySet:
    condition = instance_q(query, environment_id=environment_id)
    if condition is None:
        return qs
    matching = ServiceInstance.objects.filter(condition, service_id=OuterRef("pk"))
    return qs.filter(Exists(matching))
