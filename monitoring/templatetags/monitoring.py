"""Template helpers for monitoring: value formatting and the reusable summary strip.

Usage in any template:
    {% load monitoring %}
    {% monitoring_summary service environment %}
`environment` is an Environment (or its slug). Pass services whose `instances` are prefetched
and the tag makes no query.

The strip's markup has one home, `strip_html()`: the tag, the lazy-load view and the catalog
rows all print it. The catalog (50 rows, ~120 strips a page) calls `strip_html` directly while
shaping its rows, with no template, context or URL reversal per strip.
"""

from datetime import UTC, datetime
from functools import lru_cache
from html import escape

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString

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


@lru_cache(maxsize=8)
def _url_patterns(script_prefix: str) -> tuple[str, str]:
    """The metrics and summary URLs with a `{}` where the slug / pk goes (reversed once)."""
    metrics = reverse("monitoring:metrics", args=["slug-here"]).replace("slug-here", "{}")
    summary = reverse("monitoring:summary", args=[999999999]).replace("999999999", "{}")
    return metrics, summary


def strip_patterns() -> tuple[str, str]:
    """For `strip_html(patterns=...)` in a loop: look the URL patterns up once."""
    return _url_patterns(get_script_prefix())


def strip_html(
    *, service_slug: str, instance_pk: int, summary, compact: bool, patterns=None
) -> SafeString:
    """One summary strip: the cached `summary` coloured by alarm state, or (None) a placeholder
    that htmx loads when it scrolls into view."""
    metrics_url, summary_url = patterns or strip_patterns()
    # Formatted and escaped here (html.escape, as Django's escape does) rather than with
    # format_html: the catalog prints ~120 strips a page and format_html's per-argument
    # lazy-string checks were a tenth of the page's time.
    if summary is None:
        return SafeString(
            f'<span class="mon-summary loading" hx-get="{escape(summary_url.format(instance_pk))}'
            f'{"?compact=1" if compact else ""}" hx-trigger="revealed" '
            'hx-swap="outerHTML">…</span>'
        )
    state = summary.state
    if summary.error:
        title = summary.error
    elif state:
        title = f"alarms {state}"
    else:
        title = "no alarms"
    env = escape(str(summary.environment))
    return SafeString(
        f'<a class="mon-summary alarm-{escape((state or "none").lower())}" '
        f'href="{escape(metrics_url.format(service_slug))}?env={env}" '
        f'title="{env}: {escape(str(title))}" data-state="{escape(str(state))}">'
        f'<span class="mon-dot" aria-hidden="true"></span>{f"{env} · " if compact else ""}'
        f"{escape(str(summary.label))} {escape(str(summary.value))}"
        f"{' · in alarm' if state == 'ALARM' else ''}</a>"
    )


@register.simple_tag
def monitoring_strip(service, instance, summary, compact=False) -> SafeString:
    return strip_html(
        service_slug=service.slug, instance_pk=instance.pk, summary=summary, compact=compact
    )


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
