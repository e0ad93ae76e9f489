"""The API's lists are paged: bounded pages, keyset cursors, filters, sorts, facets, ETags."""

import pytest
from django.urls import reverse

from api.services import token_create
from catalog import search
from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance, Team

URL = "/api/v1/services"


@pytest.fixture
def headers(personas):
    _, secret = token_create(user=personas["charlie"], name="test")
    return {"authorization": f"Bearer {secret}"}


@pytest.fixture
def many(personas):
    """130 services: payments owns the even ones, search the odd ones; every third in prod."""
    Service.objects.bulk_create(
        Service(
            slug=f"svc-{n:03d}",
            name=f"Service {n}",
            kind="ecs" if n % 5 == 0 else "lambda",
            owner=personas["payments"] if n % 2 == 0 else personas["search"],
            lifecycle="production" if n % 4 == 0 else "experimental",
            description="takes payment" if n % 10 == 0 else "",
        )
        for n in range(130)
    )
    ServiceInstance.objects.bulk_create(
        ServiceInstance(service=s, environment=personas["prod"], status="healthy")
        for s in Service.objects.all()
        if int(s.slug[-3:]) % 3 == 0
    )
    search.catalog_changed()  # bulk writes skip the services that do this
    return Service.objects.order_by("slug")


def test_services_are_paged_with_a_cursor_a_total_and_facets(client, many, headers):
    first = client.get(URL, headers=headers).json()
    assert len(first["results"]) == 50  # the default page
    assert first["count"] == 130
    assert first["results"][0]["slug"] == "svc-000"
    facets = {f["name"]: {o["value"]: o["count"] for o in f["options"]} for f in first["facets"]}
    assert facets["owner"] == {"payments": 65, "search": 65}
    assert facets["kind"]["ecs"] == 26
    assert facets["environment"]["prod"] == 44

    seen = [s["slug"] for s in first["results"]]
    page = first
    while page["next"]:
        assert "cursor=" in page["next"]
        page = client.get(page["next"], headers=headers).json()
        assert page["count"] == 130
        seen += [s["slug"] for s in page["results"]]
    assert seen == [s.slug for s in many]  # every service once, in order
    assert page["next_cursor"] is None


def test_no_request_gets_an_unbounded_list(client, many, headers, personas):
    assert len(client.get(f"{URL}?limit=200", headers=headers).json()["results"]) == 130
    assert client.get(f"{URL}?limit=201", headers=headers).status_code == 422
    assert client.get(f"{URL}?limit=0", headers=headers).status_code == 422
    Team.objects.bulk_create(Team(slug=f"team-{n:03d}", name=f"Team {n}") for n in range(250))
    teams = client.get("/api/v1/teams?page_size=100000", headers=headers).json()
    assert len(teams["results"]) == 200  # capped
    rest = client.get(teams["next"], headers=headers).json()
    assert len(rest["results"]) == 52 and rest["next"] is None
    envs = client.get("/api/v1/environments", headers=headers).json()
    assert [e["slug"] for e in envs["results"]] == ["dev", "prod"]


def test_filters_combine_and_facets_count_the_other_filters(client, many, headers):
    page = client.get(f"{URL}?owner=payments&kind=ecs", headers=headers).json()
    assert {s["slug"] for s in page["results"]} == {f"svc-{n:03d}" for n in range(0, 130, 10)}
    assert page["count"] == 13
    owners = next(f for f in page["facets"] if f["name"] == "owner")
    # The owner facet ignores the owner filter: what choosing each team would give.
    assert {o["value"]: o["count"] for o in owners["options"]} == {"payments": 13, "search": 13}

    production = client.get(f"{URL}?lifecycle=production&limit=200", headers=headers).json()
    assert production["count"] == 33
    deployed = client.get(f"{URL}?environment=prod&status=healthy&limit=200", headers=headers)
    assert deployed.json()["count"] == 44
    assert all(int(s["slug"][-3:]) % 3 == 0 for s in deployed.json()["results"])
    found = client.get(f"{URL}?q=payment", headers=headers).json()
    assert found["count"] == 13
    assert client.get(f"{URL}?kind=nope", headers=headers).status_code == 422
    unknown = client.get(f"{URL}?owner=nobody", headers=headers).json()
    assert unknown["results"] == [] and unknown["count"] == 0


def test_sorts_page_with_their_own_cursor(client, personas, headers):
    for slug in ("alpha", "beta", "gamma"):
        catalog_services.service_create(
            user=personas["alice"], owner=personas["payments"], slug=slug, kind="lambda"
        )
    newest = client.get(f"{URL}?sort=newest&limit=2", headers=headers).json()
    assert [s["slug"] for s in newest["results"]] == ["gamma", "beta"]
    rest = client.get(newest["next"], headers=headers).json()
    assert [s["slug"] for s in rest["results"]] == ["alpha"]
    backwards = client.get(f"{URL}?sort=-name", headers=headers).json()
    assert [s["slug"] for s in backwards["results"]] == ["gamma", "beta", "alpha"]


def test_etag_revalidation_answers_304_until_the_catalog_changes(client, personas, headers):
    catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="ledger", kind="lambda"
    )
    first = client.get(URL, headers=headers)
    etag = first.headers["ETag"]
    again = client.get(URL, headers={**headers, "if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="billing", kind="lambda"
    )
    changed = client.get(URL, headers={**headers, "if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    teams = client.get("/api/v1/teams", headers=headers)
    assert (
        client.get(
            "/api/v1/teams", headers={**headers, "if-none-match": teams.headers["ETag"]}
        ).status_code
        == 304
    )


def test_query_counts_do_not_grow_with_the_page(
    client, many, headers, django_assert_max_num_queries
):
    # Token (+ its last-used stamp), the page, the counts' version; facets on a cache miss:
    # the environments, the catalog-wide counts (one statement) and the team labels. None of
    # it depends on the page size.
    with django_assert_max_num_queries(7):
        first = client.get(f"{URL}?limit=200", headers=headers).json()
    # A later page of the same query: the page and the counts' version (catalog.facets: the
    # clock PostgreSQL's triggers advance with every write; the token is remembered by the
    # process, api.services; facets from the cache).
    with django_assert_max_num_queries(2):
        client.get(f"{URL}?cursor={first['results'][99]['slug']}", headers=headers)
    # A new filter combination (facets recounted) with an owner (the team lookup), and the
    # counts' version.
    with django_assert_max_num_queries(7):
        client.get(f"{URL}?owner=payments&q=payment", headers=headers)
    # Teams: the page, then their memberships and users.
    with django_assert_max_num_queries(3):
        client.get("/api/v1/teams?page_size=200", headers=headers)
    with django_assert_max_num_queries(1):
        client.get("/api/v1/environments?page_size=200", headers=headers)


def test_the_service_list_answers_in_its_documented_shape(client, many, headers):
    """The list is rendered from plain values, not through its response schema: the OpenAPI
    schema must still describe it exactly (field names and types)."""
    schemas = client.get(reverse("api-v1:openapi-json")).json()["components"]["schemas"]
    page = client.get(f"{URL}?q=payment&limit=5", headers=headers).json()
    assert set(page) == set(schemas["ServicePageOut"]["properties"])
    assert page["count"] == 13 and len(page["results"]) == 5 and "cursor=" in page["next"]
    documented = schemas["ServiceOut"]["properties"]
    json_types = {str: "string", list: "array", int: "integer", bool: "boolean"}
    for service in page["results"]:
        assert set(service) == set(documented)
        for name, value in service.items():
            assert json_types[type(value)] == documented[name]["type"], name
        assert service["created_at"].endswith("Z")  # an ISO date-time, as the schema says
    for facet in page["facets"]:
        assert set(facet) == set(schemas["FacetOut"]["properties"])
        for option in facet["options"]:
            assert set(option) == set(schemas["FacetOptionOut"]["properties"])


def test_the_schema_documents_the_bounds(client, db):
    schema = client.get(reverse("api-v1:openapi-json")).json()
    params = {p["name"]: p for p in schema["paths"]["/api/v1/services"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 200
    assert {"q", "owner", "kind", "lifecycle", "environment", "status", "sort", "cursor"} <= set(
        params
    )
    page = schema["components"]["schemas"]["ServicePageOut"]["properties"]
    assert {"results", "next", "next_cursor", "count", "facets"} <= set(page)
    assert "304" in schema["paths"]["/api/v1/services"]["get"]["responses"]


def test_rows_written_by_postgresql_read_as_the_json_encoder_writes_them(client, personas, headers):
    """The page's rows come as JSON text from PostgreSQL (api.selectors): every value must read
    back as Django's JSON encoder writes it (dates to the millisecond with "Z", none when the
    microseconds are zero; quotes, backslashes, line breaks, non-ASCII; tags as a list)."""
    import json
    from datetime import UTC, datetime

    from django.core.serializers.json import DjangoJSONEncoder

    from api.selectors import SERVICE_FIELDS

    odd = 'Zoë "quoted" \\ back\nslash\t→ ✓'
    stamps = [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 999600, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 120000, tzinfo=UTC),
    ]
    for n, stamp in enumerate(stamps):
        service = catalog_services.service_create(
            user=personas["alice"],
            owner=personas["payments"],
            slug=f"odd-{n}",
            kind="lambda",
            name=odd,
            description=odd,
            tags=["tier-1", "pci"] if n % 2 else [],
        )
        Service.objects.filter(pk=service.pk).update(created_at=stamp)
    for params in ("", "?sort=newest", "?q=odd&limit=3"):
        page = client.get(f"{URL}{params}", headers=headers).json()
        wanted = [
            {name.replace("owner__slug", "owner"): row[name] for name in SERVICE_FIELDS}
            for row in Service.objects.filter(slug__in=[s["slug"] for s in page["results"]]).values(
                *SERVICE_FIELDS
            )
        ]
        expected = json.loads(json.dumps(wanted, cls=DjangoJSONEncoder))
        by_slug = {row["slug"]: row for row in expected}
        assert page["results"] == [by_slug[s["slug"]] for s in page["results"]]
        assert [list(s) for s in page["results"]] == [
            list(by_slug[s["slug"]]) for s in page["results"]
        ]
    created = {
        s["slug"]: s["created_at"] for s in client.get(URL, headers=headers).json()["results"]
    }
    assert created == {
        "odd-0": "2026-01-02T03:04:05Z",
        "odd-1": "2026-01-02T03:04:05.000Z",
        "odd-2": "2026-01-02T03:04:05.999Z",
        "odd-3": "1999-12-31T23:59:59.120Z",
    }
