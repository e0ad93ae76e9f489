"""The JSON API under /api/v1/ (its OpenAPI schema at /api/v1/openapi.json)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver

from api.v1 import api


def _public(patterns):
    # The API authenticates with its own bearer tokens and answers 401 itself; the site-wide
    # LoginRequiredMiddleware must not redirect API clients to the login page.
    for entry in patterns:
        if isinstance(entry, URLResolver):
            _public(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            login_not_required(entry.callback)
    return patterns


urls, app_name, namespace = api.urls
api_urls = (_public(urls), app_name, namespace)
