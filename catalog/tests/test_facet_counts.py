"""Filter counts without search words are sums over the catalog-wide cube (catalog.facets);
they must be exactly what the grouped queries over the catalog give."""

from collections import Counter

import pytest
from django.db.models import Count

from catalog import facets, services
from catalog.filters import CatalogQuery, search_q
from catalog.models import Environment, Service, ServiceInstance


def _totals(combos) -> Counter:
    summed = Counter()
    for *key, n in combos:
        summed[tuple(key)] += n
    return summed


def spread_catalog(personas, *, count: int, statuses, kind_of) -> dict:
    """`count` services spread over two teams, three kinds, three lifecycles and up to three
    environments (a staging one added), with instances in `statuses`; the personas, "staging"
    and "envs" (dev, staging, prod). Shared with test_facet_triggers."""
    staging = Environment.objects.create(
        slug="staging", name="Staging", aws_account_id="123456789012", order=1
    )
    envs = [personas["dev"], staging, personas["prod"]]
    for n in range(count):
        owner, user = (
            (personas["payments"], personas["alice"])
            if n % 3
            else (personas["search"], personas["charlie"])
        )
        service = services.service_create(
            user=user,
            owner=owner,
            slug=f"svc-{n:02d}",
            kind=["lambda", "ecs", "apigateway"][kind_of(n)],
            lifecycle=["production", "experimental", "deprecated"][n % 4 % 3],
        )
        for e, env in enumerate(envs):
            if (n + e) % 4:
                ServiceInstance.objects.create(
                    service=service, environment=env, status=statuses[(n * 7 + e) % 6]
                )
    return {**personas, "staging": staging, "envs": envs}


@pytest.fixture
def spread(personas):
    statuses = ["healthy", "failed", "deploying", "drifted", "deleted", "not_deployed"]
    return spread_catalog(
        personas, count=24, statuses=statuses, kind_of=lambda n: n % 3 - 1 if n % 5 else 0
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"team": "payments"},
        {"kind": "ecs"},
        {"team": "search", "lifecycle": "production"},
        {"environment": "staging"},
        {"environment": "dev", "team": "search"},
        {"environment": "prod", "kind": "lambda", "team": "payments"},
        {"team": "no-such-team"},
        {"environment": "no-such-env"},
    ],
)
def test_cube_sums_equal_the_grouped_queries(spread, params):
    query = CatalogQuery.from_params(params)
    team = spread.get(query.team) if query.team in ("payments", "search") else None
    team_id = team.pk if team else -1
    env = Environment.objects.filter(slug=query.environment).first()
    env_id = env.pk if env else -1
    cube = facets._compute_cube()
    deployed = facets._compute_deployed(env_id) if query.environment else ()
    from_cube = facets._from_cube(query, cube, deployed, team_id=team_id, env_id=env_id)
    from_sql = facets._from_queries(query, team_id=team_id, env_id=env_id)
    assert _totals(from_cube[0]) == _totals(from_sql[0])
    assert +from_cube[1] == +from_sql[1]


def test_a_catalog_write_shows_in_the_next_page_counts(spread):
    """No recount by the writer and no cache to forget: the next page reads counts the write
    itself updated (PostgreSQL's triggers), and a new version of them."""
    query = CatalogQuery.from_params({})
    environments = list(Environment.objects.all())
    kwargs = dict(team=None, team_id=-1, environments=environments, env_id=-1)
    _facets, total = facets.cached_facets(query, **kwargs)
    assert total == 24
    alice, payments = spread["alice"], spread["payments"]
    services.service_create(user=alice, owner=payments, slug="fresh", kind="ecs")
    _facets, total = facets.cached_facets(query, **kwargs)
    assert total == 25


@pytest.mark.parametrize("q", ["svc", "svc-01", "svc-1", "nothing"])
def test_a_search_counts_the_same_in_one_statement(spread, q):
    """Search words alone are counted in one statement (PostgreSQL): the same combinations and
    (environment, status) pairs as grouped queries over the matching services."""
    query = CatalogQuery.from_params({"q": q})
    combos, pairs, _since = facets._from_queries(query, team_id=-1, env_id=-1)
    matching = Service.objects.filter(search_q(q))
    grouped = matching.values_list("owner_id", "kind", "lifecycle").annotate(n=Count("*"))
    instances = ServiceInstance.objects.filter(service__in=matching).values_list(
        "environment_id", "status"
    )
    expected = Counter({(env, st): n for env, st, n in instances.annotate(n=Count("*")).order_by()})
    assert _totals(combos) == _totals(grouped.order_by())
    assert +pairs == +expected
    assert (sum(n for *_, n in combos) > 0) == (q != "nothing")


@pytest.mark.parametrize("q", ["svc", "svc-1", "svc-01", "nothing"])
def test_a_search_page_and_its_counts_in_one_statement_match_the_separate_ones(spread, q):
    """After a write, a search's first page and its counts come from one statement
    (catalog.search._services_and_counts): the same rows in the same order, the same ranks
    (the next page's cursor), and the same counts as the page query and the grouped counts."""
    from catalog.search import PAGE_SIZE, _services, _services_and_counts

    query = CatalogQuery.from_params({"q": q})
    assert facets.one_pass(query)
    together, (combos, pairs, _since) = _services_and_counts(query, team_id=-1)
    apart = _services(query, team_id=-1, environment_id=-1)
    assert [(s["slug"], s["rank"]) for s in together] == [(s["slug"], s["rank"]) for s in apart]
    assert len(together) <= PAGE_SIZE + 1
    expected_combos, expected_pairs, _ = facets._from_queries(query, team_id=-1, env_id=-1)
    assert _totals(combos) == _totals(expected_combos)
    assert +pairs == +expected_pairs
    assert (len(together) > 0) == (q != "nothing")


def test_a_search_after_a_write_shows_what_a_cached_one_shows(client, spread):
    """The one-statement page (counts not cached) and the next one (counts cached) print the
    same rows and the same filter counts; a write in between shows at once."""
    client.force_login(spread["alice"])

    def body():  # the catalog below the page frame (the frame holds a fresh CSRF token)
        html = client.get("/catalog/", {"q": "svc"}).content.decode()
        return html.split('<div id="catalog"', 1)[1]

    first, again = body(), body()
    assert first == again
    assert "<strong>24</strong> services" in first
    service = Service.objects.get(slug="svc-01")
    services.service_update(
        service=service,
        user=spread["alice"],
        name=service.name,
        description=service.description,
        lifecycle="deprecated" if service.lifecycle != "deprecated" else "production",
        tags=service.tags,
    )
    after = body()
    assert after != again  # the lifecycle counts moved by one
    assert after == body()


def test_counts_cached_by_the_release_before_do_not_break_the_page(client, spread):
    """Redis outlives a release: during a rolling upgrade the processes of the release before
    still write entries in its format ((version number, facets) under the key without a
    format). This release's pages never read them and count for themselves."""
    from django.core.cache import cache

    client.force_login(spread["alice"])
    key = facets.facets_lookup(CatalogQuery.from_params({"q": "svc"})).key
    cache.set(key.replace(f":{facets._ENTRY_FORMAT}:", ":"), (7, ([], 0)), 30)
    cache.set(facets._VERSION_KEY, 7, None)
    response = client.get("/catalog/", {"q": "svc"})
    assert response.status_code == 200
    assert "<strong>24</strong> services" in response.content.decode()
