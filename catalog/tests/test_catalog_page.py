"""The catalog page: search as you type, facets with counts, sort, keyset pagination."""

import re

import pytest
from django.urls import reverse

from catalog import services
from catalog.selectors import PAGE_SIZE
from catalog.tests.conftest import launch

URL = reverse("catalog:service_list")


def names(response) -> list[str]:
    return re.findall(r'class="service-name" href="[^"]+">([^<]+)</a>', response.content.decode())


def facet_count(response, facet: str, label: str) -> int:
    """The count shown next to `label` in the `facet` box."""
    html = response.content.decode()
    box = html.split(f'id="facet-{facet}"', 1)[1].split("</section>", 1)[0]
    match = re.search(rf"{re.escape(label)} <span class=\"count\">(\d+)</span>", box)
    assert match, f"{label} not in the {facet} facet"
    return int(match.group(1))


def test_rows_show_owner_kind_lifecycle_and_environments(client, catalog):
    client.force_login(catalog["charlie"])
    response = client.get(URL)
    assert response.status_code == 200
    assert names(response) == ["Checkout", "indexer", "ledger"]
    html = response.content.decode()
    row = html.split(">Checkout</a>", 1)[1].split("</tr>", 1)[0]
    assert "Lambda function" in row and "Payments" in row and "Production" in row
    assert 'title="Development: not deployed"' in row
    assert "never" in row  # no deployment yet
    assert "<strong>3</strong> services" in html


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("checkout", ["Checkout"]),  # name / slug
        ("bookkeeping", ["ledger"]),  # description
        ("PCI", ["Checkout"]),  # tag, any case
        ("search cluster", ["indexer"]),  # every word must match
        ("nothing-like-this", []),
    ],
)
def test_search_matches_name_description_and_tags(client, catalog, q, expected):
    client.force_login(catalog["alice"])
    response = client.get(URL, {"q": q})
    assert names(response) == expected
    if not expected:
        assert "No services match these filters" in response.content.decode()


def test_typing_asks_htmx_for_the_results_fragment_only(client, catalog):
    client.force_login(catalog["alice"])
    response = client.get(URL, {"q": "ledger"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html and 'id="q"' not in html  # the search box keeps focus
    assert names(response) == ["ledger"]
    # A facet click replaces the search form too (its hidden inputs carry the filters).
    response = client.get(URL, {"kind": "ecs"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="catalog")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="catalog"')
    assert '<input type="hidden" name="kind" value="ecs">' in html


def test_facets_count_and_filter(client, catalog):
    client.force_login(catalog["alice"])
    response = client.get(URL)
    assert facet_count(response, "team", "Payments") == 2
    assert facet_count(response, "team", "Search") == 1
    assert facet_count(response, "kind", "Lambda function") == 2
    assert facet_count(response, "lifecycle", "Deprecated") == 1

    response = client.get(URL, {"team": "payments"})
    assert names(response) == ["Checkout", "ledger"]
    # Other facets are counted within the team; the team facet still offers the others.
    assert facet_count(response, "kind", "Lambda function") == 1
    assert facet_count(response, "team", "Search") == 1
    html = response.content.decode()
    assert 'aria-current="true"' in html  # the chosen option is marked, not only coloured

    response = client.get(URL, {"team": "payments", "kind": "ecs"})
    assert names(response) == ["ledger"]
    response = client.get(URL, {"lifecycle": "deprecated", "q": "search"})
    assert names(response) == ["indexer"]


def test_unknown_filter_values_are_ignored_or_match_nothing(client, catalog):
    client.force_login(catalog["alice"])
    assert len(names(client.get(URL, {"kind": "mainframe", "sort": "drop table"}))) == 3
    assert names(client.get(URL, {"team": "no-such-team"})) == []


def test_environment_and_status_facets_follow_deployments(client, catalog, aws_emulator):
    launch(client, catalog, user=catalog["alice"], name="payouts")
    client.force_login(catalog["bob"])
    response = client.get(URL)
    assert facet_count(response, "environment", "Development") == 1
    assert facet_count(response, "status", "Deploying") == 1
    response = client.get(URL, {"environment": "dev"})
    assert names(response) == ["payouts"]
    row = response.content.decode().split(">payouts</a>", 1)[1].split("</tr>", 1)[0]
    assert 'title="Development: Deploying"' in row
    assert "just now" in row  # last deploy
    assert names(client.get(URL, {"environment": "prod"})) == []
    assert names(client.get(URL, {"status": "failed"})) == []


def make_services(personas, count: int, prefix: str = "svc"):
    for n in range(count):
        services.service_create(
            user=personas["alice"], owner=personas["payments"], slug=f"{prefix}-{n:03d}", kind="ecs"
        )


def test_keyset_pages_cover_every_service_once(client, personas):
    make_services(personas, PAGE_SIZE + 7)
    client.force_login(personas["alice"])
    first = client.get(URL)
    assert len(names(first)) == PAGE_SIZE
    next_url = re.search(r'rel="next" href="([^"]+)"', first.content.decode()).group(1)
    second = client.get(next_url.replace("&amp;", "&"))
    assert len(names(second)) == 7
    assert 'rel="next"' not in second.content.decode()
    seen = names(first) + names(second)
    assert seen == sorted(seen) and len(set(seen)) == PAGE_SIZE + 7

    newest = client.get(URL, {"sort": "newest"})
    assert names(newest)[0] == f"svc-{PAGE_SIZE + 6:03d}"
    next_url = re.search(r'rel="next" href="([^"]+)"', newest.content.decode()).group(1)
    older = names(client.get(next_url.replace("&amp;", "&")))
    assert older[-1] == "svc-000" and len(older) == 7


def test_query_count_does_not_grow_with_the_catalog(
    client, personas, aws_emulator, django_assert_max_num_queries
):
    make_services(personas, 3, prefix="few")
    client.force_login(personas["alice"])
    # The user (the session is read from the cache), environments, the counts' version (the
    # clock of catalog.facets), the page's services with their instances and last deploys, the
    # signed-in user's teams; on a cache miss the facets: the catalog-wide counts PostgreSQL
    # keeps (one statement) or, with search words, two grouped counts; and the team labels.
    with django_assert_max_num_queries(7):
        client.get(URL)
    make_services(personas, PAGE_SIZE + 10, prefix="many")
    launch(client, personas, user=personas["alice"], name="deployed")
    client.force_login(personas["alice"])
    # No "many" runs in dev: one more, whether any service has the words (else close names).
    with django_assert_max_num_queries(8):
        response = client.get(URL, {"q": "many", "environment": "dev"})
    with django_assert_max_num_queries(7):
        response = client.get(URL)
    assert len(names(response)) == PAGE_SIZE


def test_catalog_is_read_only(client, personas):
    client.force_login(personas["alice"])
    assert client.post(URL).status_code == 405


def test_catalog_works_without_javascript(client, catalog):
    """Every htmx control on the page has a plain href or form action beside it."""
    client.force_login(catalog["alice"])
    html = client.get(URL).content.decode()
    assert 'action="/catalog/"' in html and 'type="submit"' in html
    for tag in re.findall(r"<(?:input|select)[^>]*hx-get[^>]*>", html):
        assert 'name="' in tag  # submitted by the enclosing GET form without JavaScript
    for link in re.findall(r'<a class="facet-option[^>]*>', html):
        assert 'href="/catalog/?' in link


def test_cached_facet_counts_follow_catalog_writes_at_once(client, catalog):
    client.force_login(catalog["alice"])
    assert facet_count(client.get(URL), "lifecycle", "Production") == 1
    services.service_update(
        service=catalog["ledger"], user=catalog["alice"], name="ledger", lifecycle="production"
    )
    assert facet_count(client.get(URL), "lifecycle", "Production") == 2


def test_rows_inherit_no_htmx_target(client, catalog):
    """Lazy-loading strips in the rows (monitoring) swap themselves; an hx-target inherited from
    a container would make them replace the whole catalog."""
    client.force_login(catalog["alice"])
    html = client.get(URL).content.decode()
    assert '<div id="results" class="catalog-body">' in html
    assert '<div class="table-wrap">' in html


def test_rows_escape_catalog_text(client, catalog):
    """The rows are rendered by a Jinja2 template: its autoescape must cover every value."""
    services.service_update(
        service=catalog["ledger"],
        user=catalog["alice"],
        name="<b>Ledger</b>",
        description="Books & <script>alert(1)</script>",
    )
    client.force_login(catalog["alice"])
    html = client.get(URL).content.decode()
    assert "&lt;b&gt;Ledger&lt;/b&gt;" in html
    assert "Books &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "<b>Ledger" not in html


def test_rows_show_a_cached_monitoring_summary_without_loading_it(client, catalog, personas):
    from django.core.cache import cache

    from catalog.models import ServiceInstance
    from monitoring.selectors import Summary

    instance = ServiceInstance.objects.create(
        service=catalog["ledger"], environment=personas["dev"], status="healthy"
    )
    cache.set(
        f"monitoring:summary:{instance.pk}",
        Summary(label="CPU", value="42 %", state="ALARM", environment="dev"),
        60,
    )
    client.force_login(catalog["alice"])
    html = client.get(URL).content.decode()
    row = html.split(">ledger</a>", 1)[1].split("</tr>", 1)[0]
    assert 'href="/monitoring/services/ledger/metrics/?env=dev"' in row
    assert "dev · CPU 42 % · in alarm" in row and 'class="mon-summary alarm-alarm"' in row
    assert "hx-trigger" not in row  # nothing left to load


def test_search_matches_word_prefixes_best_match_first(client, catalog, personas):
    services.service_create(
        user=personas["alice"],
        owner=personas["payments"],
        slug="reports",
        kind="lambda",
        description="Monthly ledger exports for finance.",
    )
    client.force_login(catalog["alice"])
    # "ledg" is a prefix of a word in both; the one named ledger ranks above the one that
    # only mentions it in its description.
    response = client.get(URL, {"q": "ledg"})
    assert names(response) == ["ledger", "reports"]
    assert "<strong>2</strong> services" in response.content.decode()
    # Sorting by name stays available.
    assert names(client.get(URL, {"q": "ledg", "sort": "-name"})) == ["reports", "ledger"]


def test_a_typo_shows_close_names(client, catalog):
    client.force_login(catalog["alice"])
    response = client.get(URL, {"q": "chekout"})
    assert names(response) == ["Checkout"]
    html = response.content.decode()
    assert "no exact match, close names shown" in html
    assert facet_count(response, "team", "Payments") == 1  # counts follow the close matches
    assert names(client.get(URL, {"q": "zzzzqqq"})) == []


def test_relevance_pages_continue_after_the_cursor(client, personas):
    make_services(personas, PAGE_SIZE + 5, prefix="orders")
    client.force_login(personas["alice"])
    first = client.get(URL, {"q": "orders"})
    next_url = re.search(r'rel="next" href="([^"]+)"', first.content.decode()).group(1)
    second = client.get(next_url.replace("&amp;", "&"))
    seen = names(first) + names(second)
    assert len(seen) == len(set(seen)) == PAGE_SIZE + 5


def test_hostile_relevance_cursors_show_a_page(client, personas):
    """A cursor Slipway never writes (NaN, infinities, no rank) answers a page, not a 500."""
    make_services(personas, 3, prefix="orders")
    client.force_login(personas["alice"])
    for after in ("NaN~a", "inf~a", "-Infinity~a", "1e999~a", "~", "x~"):
        page = client.get(URL, {"q": "orders", "sort": "relevance", "after": after})
        assert page.status_code == 200, after


def test_rows_show_the_last_deployment_and_each_environments_status(client, personas, aws_emulator):
    """The newest deployment of any of a service's instances, to the microsecond, and each
    environment's status, as read with the page's rows (one statement, catalog.search)."""
    from deployments.models import Deployment

    launch(client, personas, user=personas["alice"], name="shipped")
    client.force_login(personas["alice"])
    html = client.get(URL).content.decode()
    row = html.split(">shipped</a>", 1)[1].split("</tr>", 1)[0]
    last = Deployment.objects.filter(instance__service__slug="shipped").latest("created_at")
    assert f'<time datetime="{last.created_at.isoformat()}">just now</time>' in row
    assert 'title="Development: Deploying"' in row and "Production: not deployed" in row
    assert 'class="mon-summary loading"' in row  # the dev instance's strip, loaded by htmx
