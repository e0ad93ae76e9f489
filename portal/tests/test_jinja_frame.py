"""The catalog list is rendered whole by Jinja2: its frame (templates/jinja2/base.html) must
stay the site's frame (templates/base.html), which every other page extends."""

import html
import re

import pytest
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.cache import SessionStore
from django.template import engines
from django.test import RequestFactory
from django.urls import resolve

from catalog import services
from catalog.models import Membership

PAGE = "{% extends 'base.html' %}{% block title %}A title{% endblock %}"
PAGE += "{% block content %}<p>The page's own content</p>{% endblock %}"


def _request(path: str, user):
    request = RequestFactory().get(path)
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    request.resolver_match = resolve(path)
    return request


def _frames(request) -> tuple[str, str]:
    django_html = engines["django"].from_string(PAGE).render({}, request)
    jinja_html = engines["jinja2"].from_string(PAGE).render({}, request)
    return django_html, jinja_html


def _same(text: str) -> str:
    """What a browser makes of the page: whitespace runs as one, entities decoded (Django
    writes ' as &#x27;, Jinja2 as &#39;), the CSRF token (masked anew on every read) as one."""
    text = re.sub(r"\b[A-Za-z0-9]{64}\b", "TOKEN", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


@pytest.mark.parametrize(
    ("path", "who"),
    [
        ("/catalog/", "alice"),  # one team, the catalog's own link current
        ("/catalog/teams/", "staff"),  # no team, staff links, Teams current
        ("/audit/", "charlie"),  # two teams, one with a name to escape
        ("/accounts/login/", None),  # signed out: no navigation
    ],
)
def test_jinja_frame_is_the_django_frame(personas, path, who):
    if who == "charlie":
        team = services.team_create(slug="obrien", name="O'Brien <script>x</script> & co")
        services.membership_add(team=team, user=personas["charlie"])
    request = _request(path, personas[who] if who else AnonymousUser())
    messages.success(request, "Saved the settings of “Ledger” & <friends>.")
    django_html, jinja_html = _frames(request)
    assert _same(jinja_html) == _same(django_html)
    assert "The page's own content" in jinja_html and "Saved the settings" in jinja_html
    assert "<script>x" not in jinja_html  # escaped, as the Django frame does
    if who:
        assert f"Signed in as {personas[who].username}" in jinja_html


def test_catalog_page_shows_a_membership_change_at_once(client, personas):
    """The team switcher reads the memberships on every page: a team joined or left shows on
    the next catalog page (no copy of them is kept between requests)."""
    client.force_login(personas["charlie"])
    switcher = r'<details class="menu team-switcher">\s*<summary>([^<]*)</summary>'
    assert re.search(switcher, client.get("/catalog/").content.decode()).group(1) == "Search"
    services.membership_add(team=personas["payments"], user=personas["charlie"])
    page = client.get("/catalog/").content.decode()
    assert re.search(switcher, page).group(1) == "My teams (2)"
    assert 'href="/catalog/?team=payments"' in page
    # Removed as the admin does (there is no service for it): any write path shows at once.
    Membership.objects.filter(team=personas["payments"], user=personas["charlie"]).delete()
    page = client.get("/catalog/").content.decode()
    assert re.search(switcher, page).group(1) == "Search"
    assert 'href="/catalog/?team=payments"' not in page
