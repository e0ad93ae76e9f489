"""In a real browser: one request id searched across three services' log groups (API → Lambda →
ECS), then a result followed to that service's Logs tab, which shows the same line."""

import pytest
from playwright.sync_api import expect

from catalog import services as catalog_services
from catalog.models import ServiceInstance
from conftest import PASSWORD
from monitoring.tests.test_logs import put_lines
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]

REQUEST = "req-b17e-0099"


def deployed(personas, slug, kind):
    service = catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug=slug, kind=kind
    )
    instance = catalog_services.instance_get_or_create(service=service, environment=personas["dev"])
    instance.status = ServiceInstance.Status.HEALTHY
    instance.applied_spec = {"kind": kind}
    instance.save()
    return service


def test_search_a_request_id_across_three_services_and_open_its_lines(
    browser_page,  # noqa: F811 — fixture
    personas,
    aws_clean,
):
    api = deployed(personas, "storefront", "apigateway")
    orders = deployed(personas, "orders", "lambda")
    billing = deployed(personas, "billing", "ecs")
    deployed(personas, "search", "ecs")
    api.depends_on.add(orders)
    orders.depends_on.add(billing)
    put_lines(
        ["GET /health 200", f"POST /orders 201 {REQUEST}"], group="/slipway/dev/storefront/access"
    )
    put_lines([f"placing order for {REQUEST}", "cold start"], group="/aws/lambda/orders-dev")
    put_lines(["ready", f"ERROR card declined {REQUEST}"], group="/slipway/dev/billing")
    put_lines([f"{REQUEST} seen elsewhere"], group="/slipway/dev/search")

    page = browser_page
    sign_in(page, "bob", PASSWORD)
    page.get_by_role("link", name="Log search").click()
    page.get_by_label("Find").fill(REQUEST)
    page.get_by_label("Services", exact=True).select_option(label="storefront")
    page.get_by_label("and the services they depend on").check()
    page.locator("#main").get_by_role("button", name="Search").click()

    results = page.locator("#search-results[data-status=complete]")
    expect(results).to_contain_text("3 lines found")
    hits = page.locator(".search-hit")
    expect(hits).to_have_count(3)
    assert sorted(hits.evaluate_all("els => els.map(e => e.dataset.service)")) == [
        "billing",
        "orders",
        "storefront",
    ]
    expect(results).not_to_contain_text("seen elsewhere")

    # The billing result opens billing's Logs tab at that moment, on the same line.
    page.locator(".search-hit[data-service=billing] a.log-service").click()
    page.wait_for_url("**/services/billing/logs/**")
    expect(page.locator(".log-lines")).to_contain_text(f"ERROR card declined {REQUEST}")
