"""The cost admin shows the estimator's figures and lets nobody type one in."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from costs.models import InstanceCost
from costs.services import instance_cost_refresh, instance_traffic_set
from costs.tests.test_catalog_cost import ecs, running

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:costs_instancecost_changelist"


@pytest.fixture
def costs(personas):
    big = running(personas, "big", "ecs", ecs(1024, 2048, 2))
    fn = running(personas, "fn", "lambda", {"kind": "lambda", "memory_size": 128})
    dynamodb = {"kind": "dynamodb", "partition_key": {"name": "pk"}}
    table = running(personas, "table", "dynamodb", dynamodb)
    for instance in (big, fn, table):
        instance.refresh_from_db()  # `running` wrote the applied spec with an UPDATE
    for instance in (big, table):
        instance_cost_refresh(instance=instance, metrics=False)
    instance_traffic_set(
        instance=fn, requests_per_month=1_000_000, duration_ms=Decimal(100), user=personas["alice"]
    )
    rows = InstanceCost.objects.select_related("instance__service")
    return {row.instance.service.slug: row for row in rows}


@pytest.fixture
def admin_client(client, personas):
    personas["staff"].is_superuser = True
    personas["staff"].save()
    client.force_login(personas["staff"])
    return client


def test_non_staff_and_staff_without_the_permission_cannot_open_it(client, personas, costs):
    changelist = reverse(CHANGELIST)
    detail = reverse("admin:costs_instancecost_change", args=[costs["big"].pk])
    for url in (changelist, detail):
        assert client.get(url).status_code == 302  # anonymous: to the admin login
    client.force_login(personas["alice"])
    for url in (changelist, detail):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(personas["staff"])  # staff, but no permission on costs
    assert client.get(changelist).status_code == 403
    assert client.get(detail).status_code == 403


def test_staff_with_view_permission_lists_the_figures_most_expensive_first(
    client, personas, costs, django_assert_max_num_queries
):
    personas["staff"].user_permissions.add(Permission.objects.get(codename="view_instancecost"))
    client.force_login(personas["staff"])
    with django_assert_max_num_queries(12):
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    # big ($72.08) before fn (1M requests × 100 ms) before table (no figure, with its reason).
    assert html.index("72.08") < html.index(">fn<") < html.index(">table<")
    assert "DynamoDB on-demand is priced per request" in html  # why it has no figure
    assert reverse("catalog:service_detail", args=["big"]) in html


def test_no_figure_filter_lists_only_instances_without_an_estimate(admin_client, costs):
    response = admin_client.get(reverse(CHANGELIST), {"monthly_usd__isempty": "1"})
    html = response.content.decode()
    assert ">table<" in html and ">big<" not in html and ">fn<" not in html


def test_a_cost_cannot_be_added_edited_or_deleted_in_the_admin(admin_client, costs):
    row = costs["big"]
    assert admin_client.get(reverse("admin:costs_instancecost_add")).status_code == 403
    change = reverse("admin:costs_instancecost_change", args=[row.pk])
    page = admin_client.get(change)
    assert page.status_code == 200 and "72.08" in page.content.decode()
    assert 'name="monthly_usd"' not in page.content.decode()  # shown, not an input
    response = admin_client.post(change, {"monthly_usd": "1.00", "requests_per_month": "5"})
    assert response.status_code == 403
    assert (
        admin_client.post(
            reverse("admin:costs_instancecost_delete", args=[row.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    admin_client.post(
        reverse(CHANGELIST),
        {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
    )
    row.refresh_from_db()
    assert (row.monthly_usd, row.requests_per_month) == (Decimal("72.08"), None)
