"""The catalog-wide counts PostgreSQL's triggers keep (migration 0010, catalog.facets) are
exactly what grouped queries over the catalog give, after a write through any path, and the
next page shows them without anyone forgetting a cache."""

import random
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import facets, services
from catalog.filters import DEPLOYED, CatalogQuery
from catalog.models import Environment, Service, ServiceInstance, Team
from catalog.tests.test_facet_counts import spread_catalog
from deployments import decisions

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's triggers"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backstage"


def _summed(rows) -> Counter:
    summed = Counter()
    for *key, n in rows:
        summed[tuple(key)] += n
    return +summed


def recounted() -> dict:
    """The counts as grouped queries over every row give them."""
    instances = ServiceInstance.objects.values_list(
        "service__kind", "service__lifecycle", "environment_id", "status"
    )
    counts = {
        "services": _summed(
            Service.objects.values_list("owner_id", "kind", "lifecycle")
            .annotate(n=Count("*"))
            .order_by()
        ),
        "instances": _summed(instances.annotate(n=Count("*")).order_by()),
    }
    for env in Environment.objects.all():
        deployed = ServiceInstance.objects.filter(status__in=DEPLOYED, environment=env)
        grouped = deployed.values_list("service__owner_id", "service__kind", "service__lifecycle")
        counts[env.slug] = _summed(grouped.annotate(n=Count("*")).order_by())
    return counts


def kept() -> dict:
    """The counts as the triggers keep them (what the catalog reads)."""
    counts = {
        "services": _summed(facets._compute_services()),
        "instances": _summed(facets._compute_instances()),
    }
    for env in Environment.objects.all():
        counts[env.slug] = _summed(facets._compute_deployed(env.pk))
    return counts


def assert_exact():
    expected = recounted()
    assert kept() == expected
    assert expected["services"]  # something was counted


@pytest.fixture
def catalog(personas):
    statuses = ServiceInstance.Status.values
    return spread_catalog(personas, count=12, statuses=statuses, kind_of=lambda n: n % 3)


def test_the_migration_counted_the_rows_already_there_and_the_fixture_rows(catalog):
    assert_exact()


def test_service_create_update_and_delete_through_the_services(catalog):
    alice = catalog["alice"]
    created = services.service_create(
        user=alice, owner=catalog["payments"], slug="fresh", kind="ecs", lifecycle="production"
    )
    services.instance_get_or_create(service=created, environment=catalog["prod"])
    assert_exact()
    service = Service.objects.get(slug="svc-01")  # has instances, some deployed
    assert service.instances.exists()
    services.service_update(
        service=service,
        user=alice,
        name=service.name,
        description="moved",
        lifecycle="deprecated",
        tags=service.tags,
    )
    assert_exact()  # its instances moved to the deprecated counts too
    services.service_delete(service=created, user=alice)
    assert_exact()


def test_a_service_with_instances_deleted_and_a_team_change(catalog):
    service = Service.objects.get(slug="svc-02")
    ServiceInstance.objects.filter(service=service).update(
        status=ServiceInstance.Status.NOT_DEPLOYED
    )
    services.service_delete(service=service, user=catalog["alice"])  # instances go with it
    assert_exact()
    Service.objects.filter(slug="svc-04").update(owner=catalog["search"], kind="lambda")
    assert_exact()


def test_instance_statuses_through_the_deployment_engines_conditional_updates(catalog):
    instance = ServiceInstance.objects.filter(status="deploying").select_related("service").first()
    ServiceInstance.objects.filter(pk=instance.pk).update(applied_spec={"kind": "lambda"})
    assert_exact()  # no status change: nothing counted, nothing locked
    decisions._restore_instance_status(instance)  # deploying → healthy (a cancel)
    instance.refresh_from_db()
    assert instance.status == "healthy"
    assert_exact()
    # As _fail does: the instance failed, then a redeploy starts it again.
    ServiceInstance.objects.filter(pk=instance.pk).update(status="failed")
    assert_exact()
    ServiceInstance.objects.filter(pk=instance.pk, status="failed").update(status="deleted")
    assert_exact()


def test_bulk_writes_and_raw_sql(catalog):
    rows = list(Service.objects.filter(owner=catalog["payments"]))
    for service in rows:
        service.lifecycle = "production"
        service.kind = "ecs"
    Service.objects.bulk_update(rows, ["lifecycle", "kind"])
    assert_exact()
    Service.objects.filter(pk=rows[0].pk).update(description="only the search text")
    assert_exact()
    new = Service.objects.bulk_create(
        Service(slug=f"bulk-{n}", name=f"Bulk {n}", kind="lambda", owner=catalog["search"])
        for n in range(30)
    )
    ServiceInstance.objects.bulk_create(
        ServiceInstance(service=s, environment=env, status="healthy")
        for s in new
        for env in catalog["envs"]
    )
    assert_exact()
    qa = Environment.objects.create(slug="qa", name="QA", aws_account_id="123456789012")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE catalog_serviceinstance SET status = 'failed' WHERE id IN "
            "(SELECT id FROM catalog_serviceinstance ORDER BY id DESC LIMIT 20)"
        )
        cursor.execute(
            "UPDATE catalog_serviceinstance SET environment_id = %s WHERE environment_id = %s",
            [qa.pk, catalog["dev"].pk],
        )
        cursor.execute(
            "DELETE FROM catalog_serviceinstance WHERE service_id IN "
            "(SELECT id FROM catalog_service WHERE slug LIKE 'bulk-%%')"
        )
        cursor.execute("DELETE FROM catalog_service WHERE slug LIKE 'bulk-%%'")
    assert_exact()


def test_the_admin_change_form(client, catalog):
    catalog["staff"].is_superuser = True
    catalog["staff"].save()
    client.force_login(catalog["staff"])
    service = Service.objects.get(slug="svc-01")
    response = client.post(
        reverse("admin:catalog_service_change", args=[service.pk]),
        {
            "name": service.name,
            "owner": catalog["search"].pk,
            "lifecycle": "deprecated",
            "tags": "[]",
        },
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    service.refresh_from_db()
    assert (service.owner, service.lifecycle) == (catalog["search"], "deprecated")
    assert_exact()


def test_the_backstage_import(personas):
    call_command("import_backstage", str(EXAMPLES), verbosity=0)
    assert Service.objects.count() > 3
    assert_exact()


def test_random_writes_keep_the_counts_exact(catalog):
    """Random creates, moves, status changes and deletes (a fixed seed): after each batch the
    kept counts equal a full recount."""
    rng = random.Random(20261203)
    teams = list(Team.objects.all())
    envs = catalog["envs"]
    statuses = ServiceInstance.Status.values
    for step in range(40):
        ids = list(Service.objects.values_list("pk", flat=True))
        action = rng.choice(["create", "move", "status", "instance", "drop", "delete"])
        if action == "create" or not ids:
            service = Service.objects.create(
                slug=f"rnd-{step}",
                name=f"Random {step}",
                kind=rng.choice(Service.Kind.values),
                lifecycle=rng.choice(Service.Lifecycle.values),
                owner=rng.choice(teams),
            )
            for env in rng.sample(envs, rng.randint(0, 3)):
                ServiceInstance.objects.create(
                    service=service, environment=env, status=rng.choice(statuses)
                )
        elif action == "move":
            chosen = rng.sample(ids, min(len(ids), rng.randint(1, 4)))
            Service.objects.filter(pk__in=chosen).update(
                **rng.choice(
                    [
                        {"owner": rng.choice(teams)},
                        {"kind": rng.choice(Service.Kind.values)},
                        {"lifecycle": rng.choice(Service.Lifecycle.values)},
                    ]
                )
            )
        elif action == "status":
            instances = list(ServiceInstance.objects.values_list("pk", flat=True))
            chosen = rng.sample(instances, min(len(instances), rng.randint(1, 6)))
            ServiceInstance.objects.filter(pk__in=chosen).update(status=rng.choice(statuses))
        elif action == "instance":
            service_id = rng.choice(ids)
            env = rng.choice(envs)
            if not ServiceInstance.objects.filter(service_id=service_id, environment=env).exists():
                ServiceInstance.objects.create(
                    service_id=service_id, environment=env, status=rng.choice(statuses)
                )
        elif action == "drop":
            ServiceInstance.objects.filter(service_id=rng.choice(ids)).delete()
        else:
            Service.objects.filter(pk=rng.choice(ids)).delete()  # instances cascade first
        assert_exact()


def test_a_status_written_by_a_worker_shows_in_the_next_page_at_once(catalog):
    """No cache to forget: the count tables and their clock changed with the write."""
    query = CatalogQuery.from_params({"environment": "prod"})
    prod = catalog["prod"]
    environments = list(Environment.objects.all())
    kwargs = dict(team=None, team_id=-1, environments=environments, env_id=prod.pk)

    def failed_in_prod(found):
        status = next(f for f in found[0] if f.name == "status")
        return next(o.count for o in status.options if o.value == "failed")

    before = failed_in_prod(facets.cached_facets(query, **kwargs))
    assert failed_in_prod(facets.cached_facets(query, **kwargs)) == before  # cached
    instance = ServiceInstance.objects.filter(environment=prod).exclude(status="failed").first()
    ServiceInstance.objects.filter(pk=instance.pk).update(status="failed")  # as _fail does
    assert failed_in_prod(facets.cached_facets(query, **kwargs)) == before + 1


# --- search counts patched from the change log (migration 0011, facets.facets_patch) ----------
WRITES = st.lists(
    st.tuples(
        st.sampled_from(
            ["describe", "move", "status", "instance", "drop", "delete", "create", "relocate"]
        ),
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=10_000),
    ),
    min_size=1,
    max_size=8,
)


def _write(action: str, a: int, b: int, *, n: int) -> None:
    """One write of the catalog, chosen by (action, a, b): as users, workers and imports make."""
    services_ = list(Service.objects.order_by("pk").values_list("pk", flat=True))
    instances = list(ServiceInstance.objects.order_by("pk").values_list("pk", flat=True))
    teams = list(Team.objects.order_by("pk"))
    envs = list(Environment.objects.order_by("pk"))
    statuses = ServiceInstance.Status.values
    if action == "create" or not services_:
        service = Service.objects.create(
            slug=f"new-{n}-{a}",
            name=["Ledger sync", "Billing", "Ledgers"][a % 3],
            kind=Service.Kind.values[b % 3],
            owner=teams[a % len(teams)],
        )
        for env in envs[: b % (len(envs) + 1)]:
            ServiceInstance.objects.create(service=service, environment=env, status="healthy")
        return
    service_id = services_[a % len(services_)]
    if action == "describe":  # in or out of the search
        words = ["keeps the ledger", "pays invoices", "ledger and payments", ""][b % 4]
        Service.objects.filter(pk=service_id).update(description=words)
    elif action == "move":
        change = [
            {"owner": teams[b % len(teams)]},
            {"kind": Service.Kind.values[b % 3]},
            {"lifecycle": Service.Lifecycle.values[b % 3]},
        ][a % 3]
        Service.objects.filter(pk=service_id).update(**change)
    elif action == "status" and instances:
        ServiceInstance.objects.filter(pk=instances[b % len(instances)]).update(
            status=statuses[a % len(statuses)]
        )
    elif action == "instance":
        env = envs[b % len(envs)]
        if not ServiceInstance.objects.filter(service_id=service_id, environment=env).exists():
            ServiceInstance.objects.create(
                service_id=service_id, environment=env, status=statuses[a % len(statuses)]
            )
    elif action == "relocate" and instances:  # an instance to another service
        instance = ServiceInstance.objects.get(pk=instances[b % len(instances)])
        if not ServiceInstance.objects.filter(
            service_id=service_id, environment=instance.environment_id
        ).exists():
            ServiceInstance.objects.filter(pk=instance.pk).update(service_id=service_id)
    elif action == "drop":
        ServiceInstance.objects.filter(service_id=service_id).delete()
    elif action == "delete":
        Service.objects.filter(pk=service_id).delete()


def assert_patched_exactly(query, counted) -> tuple:
    """The counts patched from `counted` equal a recount; returns the patched ones."""
    patched = facets._patched(query, *counted)
    assert patched is not None
    combos, pairs, _ = facets._from_queries(query, team_id=-1, env_id=-1)
    assert _summed(patched[0]) == _summed(combos)
    assert +patched[1] == +pairs
    return patched


class _Undo(Exception):
    pass


def another_transaction_completes() -> None:
    """A transaction of another connection takes an xid and commits: the next snapshot's xmax
    is then past this transaction's own xid, which that snapshot does not call "visible"."""
    import psycopg

    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_current_xact_id()")


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(first=WRITES, then=WRITES, q=st.sampled_from(["ledger", "led", "ledger svc", "svc"]))
def test_search_counts_patched_after_random_writes_equal_a_recount(catalog, first, then, q):
    """Counts of a search, patched with the changes since they were counted (in this
    transaction: the counting one's own later changes), twice in a row, equal a full recount;
    every example is rolled back."""
    query = CatalogQuery.from_params({"q": q})
    try:
        with transaction.atomic():
            _write("describe", len(first), len(then), n=0)  # this transaction has an xid
            another_transaction_completes()
            counted = facets._from_queries(query, team_id=-1, env_id=-1)
            for n, write in enumerate(first):
                _write(*write, n=n)
            counted = assert_patched_exactly(query, counted)
            for n, write in enumerate(then):
                _write(*write, n=100 + n)
            assert_patched_exactly(query, counted)
            raise _Undo
    except _Undo:
        pass


@pytest.mark.django_db(transaction=True)
def test_search_counts_patched_after_committed_writes_equal_a_recount(personas):
    """The same across transactions: counted in one (autocommit), written in others."""
    for n in range(8):
        service = services.service_create(
            user=personas["alice"],
            owner=personas["payments"],
            slug=f"ledger-{n}",
            kind="lambda",
        )
        ServiceInstance.objects.create(service=service, environment=personas["dev"])
    rng = random.Random(7)
    for q in ("ledger", "led", "billing"):
        query = CatalogQuery.from_params({"q": q})
        counted = facets._from_queries(query, team_id=-1, env_id=-1)
        for round_ in range(4):
            for n in range(rng.randint(1, 6)):
                _write(
                    rng.choice(["describe", "move", "status", "instance", "create", "delete"]),
                    rng.randrange(1000),
                    rng.randrange(1000),
                    n=round_ * 10 + n + len(q) * 100,
                )
            counted = assert_patched_exactly(query, counted)


def test_a_search_after_a_write_is_patched_not_recounted(client, catalog):
    """The first search page after a write reads the changed services (one statement), not
    every match, and prints what a recount prints."""
    client.force_login(catalog["alice"])
    Service.objects.filter(slug__in=["svc-01", "svc-02"]).update(description="the ledger")

    def body():
        html = client.get("/catalog/", {"q": "ledger"}).content.decode()
        return html.split('<div id="catalog"', 1)[1]

    body()  # counted, and what it was counted from kept for the next write
    Service.objects.filter(slug="svc-03").update(description="a ledger too")
    ServiceInstance.objects.filter(service__slug="svc-01").update(status="failed")
    with CaptureQueriesContext(connection) as queries:
        patched = body()
    assert any("catalog_facet_log" in q["sql"] for q in queries.captured_queries)
    assert not any("WITH matching" in q["sql"] for q in queries.captured_queries)  # no recount
    assert "<strong>3</strong> services" in patched
    facets.catalog_changed()  # forget everything: a recount
    assert body() == patched
