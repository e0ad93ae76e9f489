"""Template helpers for catalog pages: console links, kind icons, the team switcher."""

from __future__ import annotations

from django import template

from catalog import selectors
from catalog.console import console_url
from catalog.search import KIND_ICONS

register = template.Library()


@register.filter
def aws_console_url(value) -> str:
    return console_url(str(value or ""))


@register.filter
def kind_icon(kind: str) -> str:
    return KIND_ICONS.get(kind, "◇")


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
    return request_nav_teams(request)


def request_nav_teams(request) -> list:
    """`nav_teams` of a request (the Jinja2 frame's too: portal.jinja_env)."""
    if not hasattr(request, "_slipway_nav_teams"):
        request._slipway_nav_teams = selectors.user_teams(user=request.user)
    return request._slipway_nav_teams
