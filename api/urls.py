"""The JSON API under /api/v1/ (its OpenAPI schema at /api/v1/openapi.json)."""

from django.contrib.auth.decorators import login_not_required
from django.middleware.http import ConditionalGetMiddleware
from django.urls import URLPattern, URLResolver
from django.utils.decorators import decorator_from_middleware

from api.v1 import api

_conditional = decorator_from_middleware(ConditionalGetMiddleware)


def _public(patterns):
    # The API authenticates with its own bearer tokens and answers 401 itself; the site-wide
    # LoginRequiredMiddleware must not redirect API clients to the login page.
    # Every successful GET gets an ETag (a hash of the body) and answers 304 Not Modified to a
    # matching If-None-Match: a client re-reading an unchanged page skips the download.
    for entry in patterns:
        if isinstance(entry, URLResolver):
            _public(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            entry.callback = _conditional(login_not_required(entry.callback))
    return patterns


urls, app_name, namespace = api.urls
api_urls = (_public(urls), app_name, namespace)
