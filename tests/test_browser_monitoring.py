"""In a real browser: a service's Metrics tab (range switch, deploy marker) and Logs tab
(filter, live tail appending a new line)."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from catalog import services as catalog_services
from catalog.models import ServiceInstance
from conftest import PASSWORD
from deployments.models import Deployment
from monitoring import demo
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def orders_with_traffic(personas, aws_clean):
    """A deployed Lambda service, deployed 20 minutes ago, with an hour of demo traffic."""
    from monitoring.tests.conftest import _wipe_monitoring_cache

    _wipe_monitoring_cache()
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="orders", kind="lambda"
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    instance.status = ServiceInstance.Status.HEALTHY
    instance.save()
    finished = timezone.now() - timedelta(minutes=20)
    deployment = Deployment.objects.create(
        instance=instance,
        action="update",
        spec={},
        status="succeeded",
        requested_by=personas["alice"],
        started_at=finished - timedelta(seconds=40),
        finished_at=finished,
    )
    demo.demo_traffic_write(instance=instance, backfill_minutes=60)
    yield deployment
    _wipe_monitoring_cache()


def test_metrics_range_switch_and_deploy_marker_then_logs_filter_and_live_tail(
    browser_page,  # noqa: F811
    orders_with_traffic,
):
    page = browser_page
    sign_in(page, "bob", PASSWORD)
    page.goto("/monitoring/services/orders/metrics/")

    charts = page.locator("#charts")
    expect(charts).to_have_attribute("data-range", "1h")
    marker = page.locator("#panel-invocations g.marker-deploy")
    expect(marker).to_have_count(1)
    expect(page.locator("#panel-invocations .legend")).to_contain_text("Invocations")

    page.get_by_role("link", name="6h", exact=True).click()
    expect(charts).to_have_attribute("data-range", "6h")
    expect(page).to_have_url(re.compile(r"range=6h"))
    expect(page.locator("#panel-invocations g.marker-deploy")).to_have_count(1)
    expect(page.locator("#panel-invocations")).to_contain_text("Invocations")
    assert (
        f"Deployment #{orders_with_traffic.pk}"
        in page.locator("#panel-invocations g.marker-deploy title").text_content()
    )

    page.get_by_role("link", name="Logs").click()
    page.get_by_label("Filter pattern").fill("ERROR")
    page.get_by_role("button", name="Apply").click()
    lines = page.locator("#log-lines .log-line")
    expect(lines.first).to_be_visible()
    for text in lines.all_inner_texts():
        assert "ERROR" in text

    page.get_by_label("Live tail").check()
    aws_client("logs").put_log_events(
        logGroupName="/aws/lambda/orders-dev",
        logStreamName=demo.DEMO_STREAM,
        logEvents=[
            {"timestamp": int(time.time() * 1000), "message": "ERROR brand new line from the test"}
        ],
    )
    expect(lines.first).to_contain_text("brand new line from the test", timeout=15_000)
