"""A hanging AWS endpoint: pages that read AWS answer within seconds and say so plainly.

The fault proxy holds every AWS request for a minute. Inside a web request boto3 clients have
the web budget (portal.aws.interactive(): short timeouts, at most one retry); before it, a plan
request held a web worker for 150 s (30 s read timeout × 5 attempts).
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import Service, ServiceInstance
from portal import aws
from tests.faultproxy import Rule

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

MESSAGE = "AWS did not answer in time"


@pytest.fixture
def hanging(faults):
    faults.add(Rule("*", times=1000, delay=60))
    return faults


def test_the_web_budget_applies_only_inside_a_request(settings, aws_emulator):
    settings.AWS_MAX_ATTEMPTS = 5
    background = aws.aws_client("lambda").meta.config
    with aws.interactive():
        web = aws.aws_client("lambda").meta.config
    assert (background.read_timeout, background.retries["total_max_attempts"]) == (30, 5)
    assert (web.connect_timeout, web.read_timeout) == (3, 3)
    assert web.retries["total_max_attempts"] == 2  # one retry at most


def test_a_plan_answers_within_seconds_when_aws_hangs(client, personas, hanging, settings):
    settings.AWS_MAX_ATTEMPTS = 5  # production's patient default for background work
    client.force_login(personas["alice"])
    data = {
        "name": "orders",
        "owner": personas["payments"].pk,
        "environment": personas["dev"].pk,
        "runtime": "python3.12",
        "handler": "app.handler",
        "source": "def handler(event, context):\n    return 1\n",
        "memory_size": "256",
        "timeout": "10",
        "architecture": "x86_64",
    }
    started = time.monotonic()
    response = client.post(reverse("deployments:lambda_create"), data)
    elapsed = time.monotonic() - started
    print(f"plan answered in {elapsed:.1f} s with AWS hanging")
    assert response.status_code < 500
    assert MESSAGE in response.content.decode()
    assert elapsed < 10  # two attempts of at most 3 s each (plus connecting), not 150 s
    assert not Service.objects.exists()

    # The worker is free again: with AWS back, the next page is answered at once.
    hanging.clear()
    started = time.monotonic()
    assert client.get(reverse("catalog:service_list")).status_code == 200
    assert time.monotonic() - started < 2


@pytest.fixture
def deployed(personas):
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="orders", kind="lambda"
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    instance.status = ServiceInstance.Status.HEALTHY
    instance.save()
    return instance


@pytest.mark.parametrize(
    "url",
    [
        reverse("monitoring:logs", args=["orders"]),
        reverse("monitoring:logs_tail", args=["orders"]) + "?since=1",
        reverse("monitoring:metrics", args=["orders"]),
        reverse("interop:discovery"),
    ],
    ids=["logs", "live-tail", "metrics", "discovery"],
)
def test_pages_reading_aws_say_it_did_not_answer(
    client, personas, deployed, hanging, settings, url
):
    settings.AWS_WEB_READ_TIMEOUT = 1  # the same path as above, faster
    client.force_login(personas["alice"])
    started = time.monotonic()
    response = client.get(url)
    assert response.status_code == 200
    assert MESSAGE in response.content.decode()
    assert time.monotonic() - started < 6
