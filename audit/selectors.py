"""Reading the audit log: filtered, newest first."""

from __future__ import annotations

from datetime import date, datetime, time

from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditEvent


def audit_events(
    *,
    actor: str = "",
    action: str = "",
    environment: str = "",
    source: str = "",
    result: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """Events matching every given filter; `until` includes the whole day."""
    qs = AuditEvent.objects.select_related("actor", "environment")
    if actor:
        qs = qs.filter(actor_name=actor)
    if action:
        qs = qs.filter(action__startswith=action)
    if environment:
        qs = qs.filter(environment__slug=environment)
    if source:
        qs = qs.filter(source=source)
    if result:
        qs = qs.filter(result=result)
    tz = timezone.get_current_timezone()
    if since:
        qs = qs.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        qs = qs.filter(created_at__lte=datetime.combine(until, time.max, tzinfo=tz))
    return qs


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())
