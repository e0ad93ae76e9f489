"""Every mutating URL refuses strangers: found by walking the URL conf, so none can be forgotten.

A URL is mutating when its view allows POST (require_POST / require_http_methods) or, for the
JSON API, when a django-ninja operation on it takes a non-GET method. For each one:

- anonymous → login redirect (web) or 401 (API);
- charlie, a member of another team → 403, or 404 where the object is hidden from him
  (URLs that name no existing object, like "new service", answer 400/403/422: refused);
- and nothing changed: no row added, changed or removed (audit rows of the refusal aside),
  and no AWS call made.

URL arguments come from fixture objects by keyword name (slug → a service of team payments,
pk → a deployment awaiting approval, environment → dev, ...), not from a per-URL list.
Public views (login_not_required: health check, the API schema), Django's auth views and the
Django admin (staff only, Django's own permission system) are left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from api.services import token_create
from catalog import services as catalog_services
from catalog.models import ServiceInstance
from deployments.models import Deployment
from portal import aws

SAFE = {"GET", "HEAD", "OPTIONS"}
# The admin is staff-only by Django's own permission system; accounts/ holds Django's auth views
# (sign out, change your own password), which act only on the signed-in user.
EXCLUDED_PREFIXES = ("admin/", "accounts/")
# Rows a refused request may legitimately write: the audit row of the refusal, the session of
# the user we signed in, axes' login log, and a token's last-used time.
IGNORED_MODELS = {"audit.auditevent", "sessions.session", "axes.accesslog", "axes.accessattempt"}
IGNORED_FIELDS = {"api.apitoken": {"last_used_at"}}


@dataclass(frozen=True)
class Route:
    route: str  # e.g. "deployments/<int:pk>/confirm/"
    name: str
    methods: frozenset[str] | None  # None: the view accepts any method
    is_api: bool
    public: bool

    @property
    def mutating(self) -> bool:
        return self.methods is None or bool(self.methods - SAFE)

    @property
    def kwargs(self) -> list[str]:
        return [m.group(2) for m in _PARAM.finditer(self.route)]


_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _allowed_methods(callback) -> tuple[frozenset[str] | None, bool]:
    """(methods the view allows, is a django-ninja view), read from the decorators' closures."""
    seen: set[int] = set()
    func = callback
    while func is not None and id(func) not in seen:
        seen.add(id(func))
        for cell in getattr(func, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if type(value).__name__ == "PathView":  # django-ninja: one view per path
                return frozenset(m for op in value.operations for m in op.methods), True
            if (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, str) and v.isupper() for v in value)
            ):
                return frozenset(value), False  # require_http_methods' request_method_list
        func = getattr(func, "__wrapped__", None)
    return None, False


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            methods, is_api = _allowed_methods(entry.callback)
            public = getattr(entry.callback, "login_required", True) is False
            yield Route(
                route=prefix + str(entry.pattern),
                name=f"{namespace}{entry.name or ''}",
                methods=methods,
                is_api=is_api,
                public=public and not is_api,
            )


def all_routes() -> list[Route]:
    unique = {}
    for route in _walk(get_resolver().url_patterns):
        if route.route.startswith(EXCLUDED_PREFIXES):
            continue
        unique.setdefault(route.route, route)
    return list(unique.values())


MUTATING = [r for r in all_routes() if r.mutating and not r.public]


# --- fixture objects ------------------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """A payments service deployed in dev, with a deployment awaiting approval in prod."""
    checkout = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="checkout", kind="lambda"
    )
    spec = {"kind": "lambda", "runtime": "python3.12", "handler": "app.handler"}
    dev = catalog_services.instance_get_or_create(service=checkout, environment=personas["dev"])
    ServiceInstance.objects.filter(pk=dev.pk).update(
        applied_spec=spec, status=ServiceInstance.Status.HEALTHY
    )
    prod = catalog_services.instance_get_or_create(service=checkout, environment=personas["prod"])
    deployment = Deployment.objects.create(
        instance=prod,
        action=Deployment.Action.CREATE,
        spec=spec,
        requested_by=personas["alice"],
        status=Deployment.Status.AWAITING_APPROVAL,
    )
    token, _ = token_create(user=personas["alice"], name="alice's laptop")
    return {**personas, "service": checkout, "deployment": deployment, "token": token}


def url_for(route: Route, world) -> str:
    """Fill the route's parameters from the fixture objects, by keyword name."""
    values = {
        "slug": world["service"].slug,
        "environment": "dev",
        "kind": "lambda",
        "team": world["payments"].slug,
        "team_slug": world["payments"].slug,
        "pk": str(world["deployment"].pk),
        "id": str(world["deployment"].pk),
        "name": "no-such-execution",  # a workflow execution's name
    }
    if route.name.startswith("api:token"):  # the web tokens page: pk is a token
        values["pk"] = str(world["token"].pk)

    def fill(match):
        name = match.group(2)
        if name not in values:
            pytest.fail(f"{route.route}: no fixture object for URL parameter {name!r}; add one")
        return values[name]

    return "/" + _PARAM.sub(fill, route.route)


def names_object(route: Route) -> bool:
    return any(k in ("slug", "pk", "id", "team", "team_slug") for k in route.kwargs)


# Request bodies that would be valid enough to reach the permission check in every view:
# they name payments (charlie's is search) wherever an owner is asked for.
def form_body(world) -> dict:
    # No "name": the tokens page would rightly make charlie a token of his own with one.
    return {
        "slug": "sneaky",
        "owner": world["payments"].pk,
        "environment": world["dev"].pk,
        "confirm": "checkout",
        "threshold": "1",
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": "x = 1",
        "memory_size": "128",
        "timeout": "3",
        "architecture": "x86_64",
    }


API_BODY = {
    "name": "sneaky",
    "slug": "sneaky",
    "kind": "lambda",
    "owner": "payments",
    "environment": "dev",
    # A well-formed typed body, so the refusal is about who asks, not what they send.
    "spec": {"kind": "lambda", "reserved_concurrency": 1},
}


def snapshot() -> dict:
    """Every row of every model (minus the ignored ones), to compare before and after."""
    state = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in IGNORED_MODELS:
            continue
        skip = IGNORED_FIELDS.get(label, set())
        rows = model.objects.order_by("pk").values()
        state[label] = [{k: v for k, v in row.items() if k not in skip} for row in rows]
    return state


def send(client, route: Route, url: str, world, headers=None):
    method = next(iter(sorted((route.methods or {"POST"}) - SAFE)))
    if route.is_api:
        return client.generic(
            method,
            url,
            data=json.dumps(API_BODY),
            content_type="application/json",
            headers=headers or {},
        )
    return client.generic(
        method,
        url,
        data=urlencode(form_body(world)),
        content_type="application/x-www-form-urlencoded",
    )


# --- the tests ------------------------------------------------------------------------------------
def test_the_walk_finds_the_mutating_urls():
    routes = {r.route for r in MUTATING}
    # A few known ones, so a broken walker cannot pass by finding nothing.
    for expected in (
        "deployments/<int:pk>/confirm/",
        "deployments/services/<slug:slug>/<slug:environment>/update/",
        "api/v1/launches",
        "account/tokens/<int:pk>/revoke/",
    ):
        assert expected in routes
    assert len(MUTATING) >= 12


@pytest.mark.parametrize("route", MUTATING, ids=[r.route for r in MUTATING])
def test_strangers_are_refused_and_nothing_changes(client, world, route):
    url = url_for(route, world)
    before, calls = snapshot(), aws.total_calls()

    anonymous = send(client, route, url, world)
    if route.is_api:
        assert anonymous.status_code == 401, anonymous.content
    else:
        assert anonymous.status_code == 302, anonymous.status_code
        assert "/accounts/login/" in anonymous["Location"]

    assert snapshot() == before, "an anonymous request changed the database"

    headers = None
    if route.is_api:
        _, secret = token_create(user=world["charlie"], name="charlie")
        headers = {"authorization": f"Bearer {secret}"}
    else:
        client.force_login(world["charlie"])  # updates his last_login: snapshot after it
    before = snapshot()
    response = send(client, route, url, world, headers=headers)
    allowed = {403, 404} if names_object(route) else {400, 403, 404, 422}
    assert response.status_code in allowed, (response.status_code, response.content[:300])

    assert snapshot() == before, "a refused request changed the database"
    assert aws.total_calls() == calls, "a refused request called AWS"


POST_ONLY = [r for r in MUTATING if r.methods is not None and "GET" not in r.methods]


@pytest.mark.parametrize("route", POST_ONLY, ids=[r.route for r in POST_ONLY])
def test_get_on_a_post_only_url_is_405(client, world, route):
    url = url_for(route, world)
    if route.is_api:
        _, secret = token_create(user=world["alice"], name="alice")
        response = client.get(url, headers={"authorization": f"Bearer {secret}"})
    else:
        client.force_login(world["alice"])
        response = client.get(url)
    assert response.status_code == 405


def test_every_page_declares_its_methods():
    """A view without require_GET/require_POST/... would accept any method unnoticed."""
    undeclared = [
        r.route for r in all_routes() if r.methods is None and not r.public and not r.is_api
    ]
    # django-ninja's own schema/docs pages and the auth views are public or GET-only by design.
    assert not [u for u in undeclared if not u.startswith(("accounts/", "api/"))], undeclared
