"""Every page carries the Content-Security-Policy; the page showing a new API token is no-store.

Pages are found by walking the URL conf (as tests/test_url_permissions.py does), so a new page
cannot be forgotten.
"""

from __future__ import annotations

import pytest

from tests.test_url_permissions import all_routes, url_for, world  # noqa: F401 — fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROUTES = all_routes()
EXTRA = ["/accounts/login/", "/admin/", "/admin/catalog/service/", "/api/v1/docs", "/no-such-page/"]


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return dict(
        (part.strip().split(" ", 1) + [""])[:2] for part in header.split(";") if part.strip()
    )


def assert_strict_policy(response, url):
    policy = _policy(response)
    assert policy, f"{url}: no Content-Security-Policy header"
    assert policy["script-src"] == "'self'", url
    assert policy["style-src"] == "'self'", url
    assert "unsafe" not in response.headers["Content-Security-Policy"], url
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", url


@pytest.mark.parametrize("route", ROUTES, ids=[r.route or "/" for r in ROUTES])
def test_every_page_carries_the_csp_header(client, world, aws_emulator, route):  # noqa: F811
    url = url_for(route, world)
    if not route.public:
        client.force_login(world["staff"] if route.name == "interop:import" else world["alice"])
    response = client.get(url)
    assert response.status_code < 500, url
    assert_strict_policy(response, url)


@pytest.mark.parametrize("url", EXTRA)
def test_login_admin_docs_and_errors_carry_it_too(client, personas, url):
    client.force_login(personas["staff"])
    if url.startswith("/accounts/"):
        client.logout()
    response = client.get(url)
    assert_strict_policy(response, url)


def test_the_new_token_page_is_never_cached(client, personas):
    client.force_login(personas["alice"])
    response = client.post("/account/tokens/", {"name": "ci"})
    assert "slw_" in response.content.decode()  # the secret, shown once
    assert "no-store" in response.headers["Cache-Control"]
    assert "no-store" in client.get("/account/tokens/").headers["Cache-Control"]
