"""Reads from the catalog, shaped for pages (a fixed number of queries whatever the size).

The catalog list itself lives in catalog/search.py (re-exported here).
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Prefetch, QuerySet

from catalog.filters import SORTS, CatalogQuery, instance_cost_sum  # noqa: F401
from catalog.models import Environment, Membership, Service, ServiceInstance, Team
from catalog.search import PAGE_SIZE, catalog_page  # noqa: F401

# --- smaller reads -----------------------------------------------------------------------------


def service_get(*, slug: str) -> Service | None:
    return Service.objects.select_related("owner").filter(slug=slug).first()


def service_instances(*, service: Service) -> QuerySet[ServiceInstance]:
    return service.instances.select_related("environment")


def service_overview(*, service: Service) -> dict:
    """What the Overview tab shows besides the service itself (a fixed number of queries)."""
    return {
        "instances": list(service_instances(service=service)),
        "depends_on": list(service.depends_on.select_related("owner").order_by("slug")),
        "dependents": list(service.dependents.select_related("owner").order_by("slug")),
    }


def teams_for_user(*, user) -> QuerySet[Team]:
    if user.is_staff:
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user).distinct()


def user_teams(*, user) -> list[Team]:
    """The teams a user belongs to (for the navigation's team switcher); staff are no exception.

    Read on every page, never kept: a membership added or removed by any path (services,
    admin, import, deletes) shows on the next page. The statement is written out (slug and name
    only) because building it with the ORM cost four times what running it does."""
    if not user.is_authenticated:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_USER_TEAMS_SQL, [user.pk])
        rows = cursor.fetchall()
    return [Team.from_db(connection.alias, ["id", "slug", "name"], row) for row in rows]


_USER_TEAMS_SQL = (
    'SELECT t."id", t."slug", t."name" FROM "catalog_team" t '
    'INNER JOIN "catalog_membership" m ON m."team_id" = t."id" '
    'WHERE m."user_id" = %s ORDER BY t."name" ASC, t."id" ASC'
)


def team_list() -> QuerySet[Team]:
    """Every team with its service and member counts and its estimated monthly AWS cost."""
    return Team.objects.annotate(
        service_count=Count("services", distinct=True),
        member_count=Count("memberships", distinct=True),
        monthly_cost=instance_cost_sum("service__owner_id"),
    ).order_by("name")


def team_get(*, slug: str) -> Team | None:
    return Team.objects.filter(slug=slug).first()


def team_page(*, team: Team, limit: int = 100) -> dict:
    """A team's services (first `limit`, by name), members, recent deployments and the
    estimated monthly cost of everything it runs."""
    from costs.selectors import team_monthly_total
    from deployments.models import Deployment

    services = list(
        Service.objects.filter(owner=team)
        .prefetch_related(
            Prefetch(
                "instances",
                queryset=ServiceInstance.objects.only(
                    "pk", "service_id", "environment_id", "status"
                ),
            )
        )
        .order_by("slug")[: limit + 1]
    )
    memberships = list(
        Membership.objects.filter(team=team).select_related("user").order_by("user__username")
    )
    deployments = list(
        Deployment.objects.filter(instance__service__owner=team)
        .select_related("instance__service", "instance__environment", "requested_by")
        .order_by("-created_at", "-pk")[:20]
    )
    return {
        "services": services[:limit],
        "more_services": len(services) > limit,
        "memberships": memberships,
        "deployments": deployments,
        "environments": list(Environment.objects.all()),
        "monthly_cost": team_monthly_total(team=team),
    }


def environments() -> QuerySet[Environment]:
    return Environment.objects.all()
