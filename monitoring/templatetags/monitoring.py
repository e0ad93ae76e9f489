"""Template helpers for monitoring: value formatting and the reusable summary strip.

Usage in any template:
    {% load monitoring %}
    {% monitoring_summary service environment %}
`environment` is an Environment (or its slug). On the catalog list, pass services whose
`instances` are prefetched (catalog.selectors.service_list does) and the tag makes no query.
"""

from datetime import UTC, datetime

from django import template

from catalog.models import ServiceInstance
from monitoring import charts, selectors

register = template.Library()


@register.filter
def metric_value(value, unit=""):
    return charts.format_value(value, unit)


@register.filter
def epoch(value):
    """Epoch seconds (or milliseconds) → an aware datetime, for |date."""
    if value in (None, ""):
        return None
    value = int(value)
    if value > 10**11:
        value //= 1000
    return datetime.fromtimestamp(value, tz=UTC)


def _instance_of(service, environment):
    """`environment` may be an Environment, its slug, or already the ServiceInstance."""
    if isinstance(environment, ServiceInstance):
        return environment
    # Compare by id when given an Environment, so the prefetched instances need no join.
    env_id = getattr(environment, "pk", None)
    for instance in service.instances.all():  # prefetched on list pages
        if env_id is not None and instance.environment_id == env_id:
            return instance
        if env_id is None and instance.environment.slug == environment:
            return instance
    return None


@register.inclusion_tag("monitoring/_summary.html")
def monitoring_summary(service, environment, compact=False):
    """The summary strip of `service` in `environment`: from the cache, or loaded lazily.

    The page never waits for AWS: a summary computed in the last minute renders at once;
    otherwise a placeholder asks for it with htmx when it scrolls into view, so a long
    list only costs AWS calls for the rows people see. No database query either way.
    """
    instance = _instance_of(service, environment)
    deployed = instance is not None and instance.status not in ("not_deployed", "deleted")
    return {
        "instance": instance if deployed else None,
        "service": service,
        "summary": selectors.summary_cached(instance=instance) if deployed else None,
        "single": True,
        "compact": compact,
    }
