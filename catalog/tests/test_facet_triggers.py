"""The catalog-wide counts PostgreSQL's triggers keep (migration 0010, catalog.facets) are
exactly what grouped queries over the catalog give, after a write through any path, and the
next page shows them without anyone forgetting a cache."""

import random
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.urls import reverse

from catalog import facets, services
from catalog.filters import DEPLOYED, CatalogQuery
from catalog.models import Environment, Service, ServiceInstance, Team
from deployments import decisions

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'"),
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
    staging = Environment.objects.create(
        slug="staging", name="Staging", aws_account_id="123456789012", order=1
    )
    envs = [personas["dev"], staging, personas["prod"]]
    statuses = ServiceInstance.Status.values
    for n in range(12):
        owner, user = (
            (personas["payments"], personas["alice"])
            if n % 3
            else (personas["search"], personas["charlie"])
        )
        service = services.service_create(
            user=user,
            owner=owner,
            slug=f"svc-{n:02d}",
            kind=["lambda", "ecs", "apigateway"][n % 3],
            lifecycle=["production", "experimental", "deprecated"][n % 4 % 3],
        )
        for e, env in enumerate(envs):
            if (n + e) % 4:
                ServiceInstance.objects.create(
                    service=service, environment=env, status=statuses[(n * 7 + e) % 6]
                )
    return {**personas, "staging": staging, "envs": envs}


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
