"""Template helpers for catalog pages: console links, the team switcher, optional slots."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template.loader import get_template

from catalog import selectors
from catalog.console import console_url

register = template.Library()
_KIND_ICONS = {"lambda": "λ", "ecs": "▣", "apigateway": "⇄"}
_known_templates: dict[str, bool] = {}


@register.filter
def aws_console_url(value) -> str:
    return console_url(str(value or ""))


@register.filter
def kind_icon(kind: str) -> str:
    return _KIND_ICONS.get(kind, "◇")


@register.filter
def instance_in(service, environment):
    """The service's instance in `environment` from its prefetched instances, or None."""
    for instance in service.instances.all():
        if instance.environment_id == environment.pk:
            return instance
    return None


@register.simple_tag(takes_context=True)
def nav_teams(context) -> list:
    """The signed-in user's teams, loaded once per request for the navigation."""
    request = context.get("request")
    if request is None:
        return []
    if not hasattr(request, "_slipway_nav_teams"):
        request._slipway_nav_teams = selectors.user_teams(user=request.user)
    return request._slipway_nav_teams


def _exists(name: str) -> bool:
    if name not in _known_templates or settings.DEBUG:
        try:
            get_template(name)
            _known_templates[name] = True
        except template.TemplateDoesNotExist:
            _known_templates[name] = False
    return _known_templates[name]


@register.simple_tag(takes_context=True)
def optional_include(context, name: str, **extra) -> str:
    """Render template `name` with the context (plus `extra`) if it exists, else nothing.

    The catalog row and the service overview leave a slot for the monitoring summary strip
    (templates/monitoring/_summary.html), which arrives with the monitoring app.
    """
    if not _exists(name):
        return ""
    flat = context.flatten()
    flat.update(extra)
    return get_template(name).render(flat, context.get("request"))


@register.simple_tag(takes_context=True)
def facet_query(context, name: str, value: str | None = None) -> str:
    """The current query string with facet `name` set to `value` (or removed), from page one."""
    params = context["request"].GET.copy()
    params.pop("after", None)
    if value is None:
        params.pop(name, None)
    else:
        params[name] = value
    return f"?{params.urlencode()}"
