"""In Chromium, under the Content-Security-Policy: key pages load without a single violation and
htmx still works (search as you type, live tail, lazy summaries, the API docs' Swagger UI).

tests/browser.py fails any browser test whose page reports a violation on the console; this
test walks the pages that use htmx and other scripts.
"""

import re
import time

import pytest
from playwright.sync_api import expect

from catalog import services as catalog_services
from catalog.models import ServiceInstance
from conftest import PASSWORD
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_key_pages_load_without_csp_violations_and_htmx_works(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
):
    for slug in ("orders", "payouts"):
        service = catalog_services.service_create(
            user=personas["alice"], owner=personas["payments"], slug=slug, kind="lambda"
        )
        instance = catalog_services.instance_get_or_create(
            service=service, environment=personas["dev"]
        )
        ServiceInstance.objects.filter(pk=instance.pk).update(status="healthy")
    logs = aws_client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/orders-dev")
    logs.create_log_stream(logGroupName="/aws/lambda/orders-dev", logStreamName="app")

    page = browser_page
    sign_in(page, "alice", PASSWORD)

    # Search as you type (htmx): the list narrows without a submit.
    page.get_by_label("Search services by name, description or tag").fill("pay")
    expect(page.locator(".service-name")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/catalog/\?q=pay"))

    # Live tail (static/js/slipway.js guards the poller): a new line appears.
    page.goto("/monitoring/services/orders/logs/")
    page.get_by_label("Live tail").check()
    logs.put_log_events(
        logGroupName="/aws/lambda/orders-dev",
        logStreamName="app",
        logEvents=[{"timestamp": int(time.time() * 1000), "message": "tail works"}],
    )
    expect(page.locator(".log-message", has_text="tail works")).to_be_visible(timeout=15_000)

    for url in (
        "/catalog/services/orders/",
        "/monitoring/services/orders/metrics/",
        "/deployments/new/lambda/",
        "/audit/",
        "/account/tokens/",
        "/interop/discovery/",
        "/api/v1/docs",
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
    expect(page.locator(".swagger-ui")).to_be_visible()

    # Staff pages: the import form and Django's admin.
    page.context.clear_cookies()
    sign_in(page, "staff", PASSWORD)
    for url in (
        "/interop/import/",
        "/admin/",
        "/admin/catalog/service/",
        "/admin/auth/user/1/change/",
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
    assert page.csp_violations == []
