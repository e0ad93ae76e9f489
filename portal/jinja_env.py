"""The Jinja2 environment of the few pages rendered whole by Jinja2 (the catalog list: its
frame, templates/jinja2/base.html, mirrors the Django one, templates/base.html; a test holds
them to the same HTML). Globals: `url`, `static`, `htmx_script`, `nav_teams`, `get_messages`.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.contrib.messages import get_messages
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf, reverse
from django_htmx.jinja import htmx_script
from jinja2 import Environment


def url(name: str, *args) -> str:
    """As `{% url name arg... %}`, each distinct URL reversed once a process (reverse() costs
    ~0.1 ms; the frame prints a dozen links)."""
    return _reversed(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), name, args)


@lru_cache(maxsize=4096)
def _reversed(urlconf, prefix: str, name: str, args: tuple) -> str:
    return reverse(name, args=args, urlconf=urlconf)


def nav_teams(request) -> list:
    """The signed-in user's teams for the team switcher (as the Django frame's `nav_teams`)."""
    from catalog.templatetags.catalog_tags import request_nav_teams

    return request_nav_teams(request)


def environment(**options) -> Environment:
    env = Environment(**options)
    env.globals.update(
        url=url,
        static=static,
        htmx_script=htmx_script,
        nav_teams=nav_teams,
        get_messages=get_messages,
    )
    return env
