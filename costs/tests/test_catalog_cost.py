"""The catalog sorts by estimated monthly cost, and each team's total is on its pages.

Estimates by hand (us-east-1, 730 h):
  big   (ECS, 2 tasks × 1 vCPU / 2 GB): 2 × 1 × 730 × $0.04048 + 2 × 2 × 730 × $0.004445
        = $59.1008 + $12.9794 = $72.0802 → $72.08
  other (ECS, 1 task × 0.5 vCPU / 1 GB, team search): $14.7752 + $3.24485 → $18.02
  small (ECS, 1 task × 0.25 vCPU / 0.5 GB): $7.3876 + $1.622425 = $9.010025 → $9.01
  fn    (Lambda, no traffic figures, no provisioned concurrency) → $0.00
  table (DynamoDB) → not estimated
"""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import ServiceInstance
from costs.models import InstanceCost


def running(personas, slug, kind, spec, team="payments"):
    user = personas["alice" if team == "payments" else "charlie"]
    service = catalog_services.service_create(user=user, owner=personas[team], slug=slug, kind=kind)
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    # As the engine leaves an instance after a successful deployment (no AWS needed here).
    ServiceInstance.objects.filter(pk=instance.pk).update(
        applied_spec=spec, status=ServiceInstance.Status.HEALTHY
    )
    return instance


def ecs(cpu, memory, count):
    return {"kind": "ecs", "image": "nginx:1.27", "cpu": cpu, "memory": memory,
            "desired_count": count}  # fmt: skip


@pytest.fixture
def priced(personas):
    running(personas, "big", "ecs", ecs(1024, 2048, 2))
    running(personas, "small", "ecs", ecs(256, 512, 1))
    running(personas, "fn", "lambda", {"kind": "lambda", "memory_size": 128})
    running(personas, "table", "dynamodb", {"kind": "dynamodb", "partition_key": {"name": "pk"}})
    running(personas, "other", "ecs", ecs(512, 1024, 1), team="search")
    call_command("costs_refresh", verbosity=0)  # the backfill path
    return personas


def test_the_refresh_command_stores_every_running_instances_estimate(priced):
    stored = dict(InstanceCost.objects.values_list("instance__service__slug", "monthly_usd"))
    assert stored == {
        "big": Decimal("72.08"),
        "small": Decimal("9.01"),
        "fn": Decimal("0.00"),
        "table": None,
        "other": Decimal("18.02"),
    }
    note = InstanceCost.objects.get(instance__service__slug="table").note
    assert note == "DynamoDB on-demand is priced per request and per GB stored; not estimated."


def test_the_catalog_sorts_by_monthly_cost(client, priced):
    client.force_login(priced["alice"])
    page = client.get(reverse("catalog:service_list"), {"sort": "cost"}).content.decode()
    order = sorted(
        ["big", "small", "fn", "table", "other"], key=lambda slug: page.index(f">{slug}</a>")
    )
    assert order == ["big", "other", "small", "fn", "table"]  # ties ($0) by name
    assert "about $72.08/month" in page
    assert '<option value="cost" selected>Monthly cost (highest first)</option>' in page
    # By name, no cost is shown (nor computed).
    assert "/month" not in client.get(reverse("catalog:service_list")).content.decode()


def test_the_sort_by_cost_pages_with_its_cursor(client, priced, settings):
    from catalog import search

    query = search.CatalogQuery.from_params({"sort": "cost", "after": "9.01~small"})
    slugs = [row["name"] for row in search.catalog_page(query=query).rows]
    assert slugs == ["fn", "table"]


def test_a_team_page_sums_its_running_instances(client, priced):
    client.force_login(priced["charlie"])
    page = client.get(reverse("catalog:team_detail", args=["payments"])).content.decode()
    # $72.08 + $9.01 + $0.00; the table has no figure.
    assert "about $81.09/month" in page
    assert "3 running instances estimated, 1 not estimated" in page
    teams = client.get(reverse("catalog:team_list")).content.decode()
    assert "about $81.09" in teams and "about $18.02" in teams


def test_a_deleted_instance_no_longer_counts(client, priced):
    from costs.services import instance_cost_refresh

    big = ServiceInstance.objects.get(service__slug="big")
    ServiceInstance.objects.filter(pk=big.pk).update(
        applied_spec=None, status=ServiceInstance.Status.DELETED
    )
    instance_cost_refresh(instance=ServiceInstance.objects.get(pk=big.pk))
    client.force_login(priced["alice"])
    page = client.get(reverse("catalog:team_detail", args=["payments"])).content.decode()
    assert "about $9.01/month" in page


def test_paging_by_cost_through_ties_and_instances_without_figures(priced, monkeypatch):
    from catalog import search

    # Ties: three more services at big's $72.08, and services with no instance at all.
    for slug in ("big-a", "big-b", "big-c"):
        running(priced, slug, "ecs", ecs(1024, 2048, 2))
    from catalog import services as catalog_services

    for slug in ("idle-a", "idle-b"):
        catalog_services.service_create(
            user=priced["alice"], owner=priced["payments"], slug=slug, kind="ecs"
        )
    from django.core.management import call_command

    call_command("costs_refresh", verbosity=0)
    monkeypatch.setattr(search, "PAGE_SIZE", 2)
    seen, after = [], ""
    while True:
        query = search.CatalogQuery.from_params({"sort": "cost", "after": after})
        page = search.catalog_page(query=query)
        seen += [row["name"] for row in page.rows]
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert seen == ["big", "big-a", "big-b", "big-c", "other", "small",
                    "fn", "idle-a", "idle-b", "table"]  # fmt: skip
