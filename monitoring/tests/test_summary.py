"""The summary strip partial: current error rate / CPU coloured by alarm state."""

import time
from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.urls import reverse

from catalog.models import Service
from monitoring import services
from portal.aws import aws_client, call_counts

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TAG = Template("{% load monitoring %}{% monitoring_summary service environment %}")


def put(metric, value):
    aws_client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": "orders-dev"}],
                "Timestamp": datetime.fromtimestamp(time.time() - 120, tz=UTC),
                "Value": value,
            }
        ],
    )


def test_summary_loads_lazily_then_renders_from_cache(client, personas, aws_clean, make_instance):
    instance = make_instance(slug="orders")
    (rule,) = services.alarms_ensure_defaults(instance=instance)
    aws_client("cloudwatch").set_alarm_state(
        AlarmName=rule.alarm_name, StateValue="ALARM", StateReason="demo"
    )
    put("Invocations", 200)
    put("Errors", 5)
    service = Service.objects.prefetch_related("instances__environment").get(slug="orders")

    before = call_counts()
    placeholder = TAG.render(Context({"service": service, "environment": personas["dev"]}))
    assert 'hx-trigger="revealed"' in placeholder  # the page never waits for AWS
    assert sum((call_counts() - before).values()) == 0

    client.force_login(personas["charlie"])
    strip = client.get(reverse("monitoring:summary", args=[instance.pk])).content.decode()
    assert "errors 2.5 %" in strip
    assert "alarm-alarm" in strip and "in alarm" in strip

    before = call_counts()
    cached = TAG.render(Context({"service": service, "environment": "dev"}))
    assert "errors 2.5 %" in cached
    assert sum((call_counts() - before).values()) == 0


def test_no_summary_for_an_environment_without_the_service(personas, make_instance):
    make_instance(slug="orders")
    service = Service.objects.prefetch_related("instances__environment").get(slug="orders")
    assert TAG.render(Context({"service": service, "environment": personas["prod"]})).strip() == ""


def test_the_tag_makes_no_query_on_a_prefetched_list(
    personas, make_instance, django_assert_num_queries
):
    make_instance(slug="orders")
    billing = make_instance(slug="billing")
    services_ = list(Service.objects.prefetch_related("instances"))
    template = Template(
        "{% load monitoring %}{% for s in services %}{% monitoring_summary s env %}{% endfor %}"
    )
    with django_assert_num_queries(0):
        html = template.render(Context({"services": services_, "env": personas["dev"]}))
    assert html.count('hx-trigger="revealed"') == 2
    assert f"/monitoring/instances/{billing.pk}/summary/" in html


def test_included_with_only_the_service_it_shows_each_environment(personas, make_instance):
    instance = make_instance(slug="orders")
    template = Template('{% include "monitoring/_summary.html" with service=service %}')
    html = template.render(Context({"service": instance.service}))
    assert "Development:" in html
    assert f"/monitoring/instances/{instance.pk}/summary/" in html


def test_the_service_overview_shows_the_health_strip(client, personas, make_instance):
    instance = make_instance(slug="orders")
    client.force_login(personas["charlie"])
    html = client.get(reverse("catalog:service_detail", args=["orders"])).content.decode()
    assert "Health now" in html
    assert f"/monitoring/instances/{instance.pk}/summary/" in html


def test_the_catalog_list_shows_a_compact_strip_per_row(client, personas, make_instance):
    instance = make_instance(slug="orders")
    client.force_login(personas["alice"])
    html = client.get(reverse("catalog:service_list")).content.decode()
    assert f"/monitoring/instances/{instance.pk}/summary/?compact=1" in html
    assert "Health now" not in html
