"""The embedded-mode demo traffic generator: labelled, never against real AWS, spikes on deploy."""

import json
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from monitoring import demo
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def chart(html, key):
    raw = re.search(rf'<script id="chart-data-{key}" type="application/json">(.*?)</script>', html)
    return json.loads(raw.group(1))


def test_demo_traffic_fills_charts_and_logs_with_a_spike_after_a_deploy(
    client, personas, aws_clean, make_instance, make_deployment
):
    instance = make_instance(slug="orders")
    make_deployment(instance, minutes_ago=30)

    call_command("demo_traffic", minutes=60, service="orders")
    call_command("demo_traffic", minutes=60, service="orders")  # nothing written twice

    client.force_login(personas["alice"])
    html = client.get(reverse("monitoring:metrics", args=["orders"])).content.decode()
    assert "demo traffic" in html
    invocations = {s["label"]: dict(s["points"]) for s in chart(html, "invocations")["series"]}
    assert len(invocations["Invocations"]) >= 59
    assert all(20 <= v <= 80 for v in invocations["Invocations"].values())  # one write a minute
    errors = sorted(invocations["Errors"].items())
    spike = [v for ts, v in errors if v >= 5]
    assert 8 <= len(spike) <= 11  # the ten minutes after the deployment
    assert max(v for v in invocations["Errors"].values()) <= 30

    logs = client.get(reverse("monitoring:logs", args=["orders"]), {"pattern": "ERROR"})
    assert "payment provider timed out" in logs.content.decode()
    streams = aws_client("logs").describe_log_streams(logGroupName="/aws/lambda/orders-dev")
    assert [s["logStreamName"] for s in streams["logStreams"]] == ["slipway-demo-traffic"]


def test_demo_traffic_refuses_real_aws(settings, personas, make_instance):
    instance = make_instance(slug="orders")
    settings.AWS_ENDPOINT_URL = ""
    with pytest.raises(demo.NotEmbedded):
        demo.demo_traffic_write(instance=instance)
    with pytest.raises(CommandError, match="embedded emulator only"):
        call_command("demo_traffic")


def test_the_beat_task_is_scheduled_only_in_embedded_mode():
    from portal import settings as portal_settings

    scheduled = "monitoring-demo-traffic" in portal_settings.CELERY_BEAT_SCHEDULE
    assert scheduled == bool(portal_settings.AWS_ENDPOINT_URL)
