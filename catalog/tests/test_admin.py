"""The Django admin takes the same path as the pages: no AWS orphans, no silent rows, an audit
row per object, and a threshold edit that reaches CloudWatch."""

import pytest
from django.contrib import admin
from django.urls import reverse

from audit.admin_base import AuditedModelAdmin
from audit.models import AuditEvent
from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance
from deployments.models import Deployment
from monitoring import services as monitoring_services
from monitoring.models import AlarmEvent
from portal.aws import aws_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, personas):
    personas["staff"].is_superuser = True
    personas["staff"].save()
    client.force_login(personas["staff"])
    return client


def make_service(personas, slug, *, deployed=False):
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug=slug, kind="lambda"
    )
    if deployed:
        instance = catalog_services.instance_get_or_create(
            service=service, environment=personas["dev"]
        )
        ServiceInstance.objects.filter(pk=instance.pk).update(
            applied_spec={"kind": "lambda"},
            resources={"function_arn": f"arn:aws:lambda:us-east-1:123456789012:function:{slug}"},
            status=ServiceInstance.Status.HEALTHY,
        )
    return service


def test_every_model_admin_audits_its_deletions():
    plain = [
        type(model_admin).__name__
        for model_admin in admin.site._registry.values()
        if type(model_admin).__module__.split(".")[0]
        in {"api", "audit", "catalog", "deployments", "interop", "monitoring"}
        and not isinstance(model_admin, AuditedModelAdmin)
    ]
    assert plain == []


def test_deleting_a_deployed_service_is_refused_with_a_link_to_the_delete_flow(
    superuser_client, personas
):
    service = make_service(personas, "orders", deployed=True)
    url = reverse("admin:catalog_service_delete", args=[service.pk])

    for method in (superuser_client.get, superuser_client.post):
        response = method(url, {"post": "yes"}, follow=True)
        html = response.content.decode()
        assert "cannot be deleted here" in html
        assert reverse("deployments:delete", args=["orders", "dev"]) in html
    assert Service.objects.filter(slug="orders").exists()
    assert not AuditEvent.objects.filter(action="admin.delete").exists()


def test_bulk_delete_refuses_if_any_selected_service_runs_in_aws(superuser_client, personas):
    running = make_service(personas, "orders", deployed=True)
    idle = make_service(personas, "idle")
    response = superuser_client.post(
        reverse("admin:catalog_service_changelist"),
        {"action": "delete_selected", "_selected_action": [running.pk, idle.pk], "post": "yes"},
        follow=True,
    )
    assert reverse("deployments:delete", args=["orders", "dev"]) in response.content.decode()
    assert Service.objects.filter(pk__in=[running.pk, idle.pk]).count() == 2
    assert not AuditEvent.objects.filter(action="admin.delete").exists()


def test_bulk_delete_writes_one_audit_event_per_object(superuser_client, personas):
    services = [make_service(personas, slug) for slug in ("one", "two", "three")]
    # A service that was planned somewhere but never ran there goes too.
    catalog_services.instance_get_or_create(service=services[0], environment=personas["dev"])
    changelist = reverse("admin:catalog_service_changelist")
    selected = {"action": "delete_selected", "_selected_action": [s.pk for s in services]}

    confirm = superuser_client.post(changelist, selected)
    assert confirm.status_code == 200 and "Are you sure" in confirm.content.decode()
    response = superuser_client.post(changelist, {**selected, "post": "yes"})

    assert response.status_code == 302
    assert not Service.objects.filter(slug__in=["one", "two", "three"]).exists()
    deleted = AuditEvent.objects.filter(action="admin.delete", source="admin")
    assert sorted(deleted.values_list("target_label", flat=True)) == ["one", "three", "two"]
    assert {e.target_type for e in deleted} == {"catalog.service"}


def test_slug_and_kind_are_read_only(superuser_client, personas):
    service = make_service(personas, "orders")
    response = superuser_client.post(
        reverse("admin:catalog_service_change", args=[service.pk]),
        {
            "slug": "renamed",
            "kind": "ecs",
            "name": "Orders",
            "owner": personas["payments"].pk,
            "lifecycle": "production",
            "tags": "[]",
        },
    )
    assert response.status_code == 302, response.content.decode()[-1500:]
    service.refresh_from_db()
    assert (service.slug, service.kind, service.name) == ("orders", "lambda", "Orders")


def test_deployments_and_audit_events_can_be_neither_deleted_nor_edited(superuser_client, personas):
    service = make_service(personas, "orders", deployed=True)
    deployment = Deployment.objects.create(
        instance=service.instances.get(),
        action="create",
        spec={},
        status="succeeded",
        requested_by=personas["alice"],
    )
    event = AuditEvent.objects.first()
    for name, pk in (("deployments_deployment", deployment.pk), ("audit_auditevent", event.pk)):
        assert superuser_client.get(reverse(f"admin:{name}_delete", args=[pk])).status_code == 403
        change = superuser_client.post(reverse(f"admin:{name}_change", args=[pk]), {})
        assert change.status_code == 403
        bulk = superuser_client.post(
            reverse(f"admin:{name}_changelist"),
            {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
        )
        assert bulk.status_code in (200, 302)
    assert Deployment.objects.filter(pk=deployment.pk).exists()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    assert (
        superuser_client.get(
            reverse("admin:catalog_serviceinstance_delete", args=[service.instances.get().pk])
        ).status_code
        == 403
    )


@pytest.mark.integration
def test_an_alarm_threshold_edited_in_the_admin_reaches_cloudwatch(
    superuser_client, personas, aws_clean
):
    service = make_service(personas, "orders", deployed=True)
    (rule,) = monitoring_services.alarms_ensure_defaults(instance=service.instances.get())

    response = superuser_client.post(
        reverse("admin:monitoring_alarmrule_change", args=[rule.pk]), {"threshold": "17"}
    )

    assert response.status_code == 302, response.content.decode()[-1500:]
    (alarm,) = aws_client("cloudwatch").describe_alarms(AlarmNames=[rule.alarm_name])[
        "MetricAlarms"
    ]
    assert alarm["Threshold"] == 17
    assert AlarmEvent.objects.get(rule=rule).summary == "Threshold changed from 5 to 17"
    assert AuditEvent.objects.filter(action="admin.change", target_id=str(rule.pk)).exists()


@pytest.mark.integration
def test_a_negative_threshold_is_refused_in_the_admin(superuser_client, personas, aws_clean):
    service = make_service(personas, "orders", deployed=True)
    (rule,) = monitoring_services.alarms_ensure_defaults(instance=service.instances.get())
    response = superuser_client.post(
        reverse("admin:monitoring_alarmrule_change", args=[rule.pk]), {"threshold": "-1"}
    )
    assert response.status_code == 200
    assert "cannot be negative" in response.content.decode()
    (alarm,) = aws_client("cloudwatch").describe_alarms(AlarmNames=[rule.alarm_name])[
        "MetricAlarms"
    ]
    assert alarm["Threshold"] == 5


def test_an_admin_edit_shows_in_the_catalog_counts_at_once(superuser_client, personas):
    from catalog.tests.test_catalog_page import facet_count

    service = make_service(personas, "orders")
    catalog = reverse("catalog:service_list")
    assert facet_count(superuser_client.get(catalog), "lifecycle", "Experimental") == 1
    response = superuser_client.post(
        reverse("admin:catalog_service_change", args=[service.pk]),
        {
            "name": "Orders",
            "owner": personas["payments"].pk,
            "lifecycle": "production",
            "tags": "[]",
        },
    )
    assert response.status_code == 302
    assert facet_count(superuser_client.get(catalog), "lifecycle", "Production") == 1
