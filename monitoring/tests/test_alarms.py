"""Default alarms per kind in CloudWatch, threshold edits by owners, state and history."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from monitoring import services
from monitoring.models import AlarmEvent, AlarmRule
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def cloudwatch_alarms(prefix="slipway-"):
    return aws_client("cloudwatch").describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]


@pytest.mark.parametrize(
    ("kind", "slug", "metric", "threshold", "dimensions"),
    [
        ("lambda", "orders", "Errors", 5, [{"Name": "FunctionName", "Value": "orders-dev"}]),
        (
            "ecs",
            "web",
            "CPUUtilization",
            80,
            [{"Name": "ClusterName", "Value": "main"}, {"Name": "ServiceName", "Value": "web-dev"}],
        ),
        (
            "apigateway",
            "edge",
            "5XXError",
            5,
            [{"Name": "ApiName", "Value": "edge-dev"}, {"Name": "Stage", "Value": "dev"}],
        ),
    ],
)
def test_ensure_defaults_creates_the_kinds_alarm_once(
    aws_clean, make_instance, kind, slug, metric, threshold, dimensions
):
    instance = make_instance(slug=slug, kind=kind)
    if kind == "ecs":
        instance.environment.ecs_cluster = "main"
        instance.environment.save()
        instance.refresh_from_db()

    services.alarms_ensure_defaults(instance=instance)
    services.alarms_ensure_defaults(instance=instance)  # idempotent

    (alarm,) = cloudwatch_alarms()
    assert alarm["AlarmName"].startswith(f"slipway-dev-{slug}-")
    assert alarm["MetricName"] == metric
    assert alarm["Threshold"] == threshold
    assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == dimensions
    assert AlarmRule.objects.filter(instance=instance).count() == 1


def test_an_owner_edits_the_threshold_and_it_is_reapplied(
    client, personas, aws_clean, make_instance
):
    instance = make_instance(slug="orders")
    (rule,) = services.alarms_ensure_defaults(instance=instance)
    client.force_login(personas["bob"])

    response = client.post(
        reverse("monitoring:alarm_threshold", args=[rule.pk]), {"threshold": "12.5"}
    )

    assert response.status_code == 302
    assert cloudwatch_alarms()[0]["Threshold"] == 12.5
    # A later deployment re-applies the defaults but keeps the team's threshold.
    services.alarms_ensure_defaults(instance=instance)
    assert cloudwatch_alarms()[0]["Threshold"] == 12.5
    event = AlarmEvent.objects.get(rule=rule)
    assert event.summary == "Threshold changed from 5 to 12.5" and event.actor == personas["bob"]
    page = client.get(response["Location"]).content.decode()
    assert "threshold is now 12.5" in page


def test_a_bad_threshold_is_refused_and_changes_nothing(client, personas, aws_clean, make_instance):
    (rule,) = services.alarms_ensure_defaults(instance=make_instance(slug="orders"))
    client.force_login(personas["alice"])
    response = client.post(
        reverse("monitoring:alarm_threshold", args=[rule.pk]), {"threshold": "-3"}, follow=True
    )
    assert "Threshold not changed" in response.content.decode()
    assert cloudwatch_alarms()[0]["Threshold"] == 5
    rule.refresh_from_db()
    assert rule.threshold == 5


def test_threshold_edit_permissions(client, personas, aws_clean, make_instance):
    (rule,) = services.alarms_ensure_defaults(instance=make_instance(slug="orders"))
    url = reverse("monitoring:alarm_threshold", args=[rule.pk])

    anonymous = client.post(url, {"threshold": "1"})
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]

    client.force_login(personas["charlie"])
    assert client.post(url, {"threshold": "1"}).status_code == 403
    assert client.get(url).status_code == 405
    assert cloudwatch_alarms()[0]["Threshold"] == 5
    # charlie reads the page but gets no threshold form.
    page = client.get(reverse("monitoring:metrics", args=["orders"])).content.decode()
    assert "slipway-dev-orders-lambda-errors" in page
    assert 'name="threshold"' not in page


def test_alarm_state_is_on_the_page_and_in_the_history(client, personas, aws_clean, make_instance):
    (rule,) = services.alarms_ensure_defaults(instance=make_instance(slug="orders"))
    aws_client("cloudwatch").set_alarm_state(
        AlarmName=rule.alarm_name, StateValue="ALARM", StateReason="Errors 9 >= 5 (demo)"
    )
    client.force_login(personas["alice"])

    page = client.get(reverse("monitoring:metrics", args=["orders"])).content.decode()
    assert '<span class="alarm-state alarm-alarm"' in page

    history = client.get(reverse("monitoring:alarm_history", args=[rule.pk])).content.decode()
    assert "Errors 9 &gt;= 5 (demo)" in history
    assert AlarmEvent.objects.filter(rule=rule, state="ALARM").count() == 1
    client.get(reverse("monitoring:metrics", args=["orders"]))  # read again: recorded once
    assert AlarmEvent.objects.filter(rule=rule, state="ALARM").count() == 1


def test_a_threshold_edit_with_nothing_to_watch_is_refused_with_why(
    personas, aws_clean, make_instance
):
    instance = make_instance(
        slug="audit", kind="sns", applied_spec={"kind": "sns", "topics": [{"name": "audited"}]}
    )
    (rule,) = services.alarms_ensure_defaults(instance=instance)
    # The topic is gone from the applied spec (the rule row is from before).
    instance.applied_spec = {"kind": "sns", "queues": [{"name": "all", "topic": "orders/x"}]}
    instance.save()
    rule.refresh_from_db()

    with pytest.raises(ValidationError, match="the service has no topic of its own"):
        services.alarm_threshold_update(rule=rule, threshold=3, user=personas["alice"])

    rule.refresh_from_db()
    assert rule.threshold == 1
    assert cloudwatch_alarms()[0]["Threshold"] == 1
