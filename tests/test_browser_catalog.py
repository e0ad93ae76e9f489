"""In a real browser: search the catalog, filter by a facet, open a service, edit its settings;
another team sees no edit controls and is refused when posting directly.

With SLIPWAY_SCREENSHOTS=1 the run also saves docs/screenshots/*.png (catalog, service
overview, team page; desktop and phone widths), which are committed.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from catalog import services
from catalog.models import Service
from catalog.tests.conftest import catalog, launch  # noqa: F401 — fixture
from conftest import PASSWORD, wait_for
from deployments.models import Deployment
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def screenshot(page, name: str) -> None:
    if os.environ.get("SLIPWAY_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def more_services(personas) -> None:
    """A fuller catalog for the pictures, built through the catalog services."""
    alice, charlie = personas["alice"], personas["charlie"]
    for slug, kind, owner, user, description, tags in [
        ("fraud-score", "lambda", "payments", alice, "Scores card payments for fraud.", ["pci"]),
        ("invoices", "ecs", "payments", alice, "Renders and mails monthly invoices.", ["batch"]),
        ("payments-api", "apigateway", "payments", alice, "Public payments REST API.", []),
        ("query-api", "apigateway", "search", charlie, "Search queries from the web shop.", []),
        ("ranker", "ecs", "search", charlie, "Re-ranks search results.", ["ml", "python"]),
    ]:
        services.service_create(
            user=user,
            owner=personas[owner],
            slug=slug,
            kind=kind,
            description=description,
            lifecycle="production",
            tags=tags,
        )


def test_search_filter_open_and_edit_settings(
    browser_page,  # noqa: F811
    catalog,  # noqa: F811
    client,
    aws_clean,
    celery_worker,
):
    more_services(catalog)
    deployment = launch(client, catalog, user=catalog["alice"], name="payouts")
    wait_for(
        lambda: Deployment.objects.filter(pk=deployment.pk, status__in=Deployment.FINISHED).first(),
        message="deployment did not finish",
    )
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, "alice", PASSWORD)
    expect(page.get_by_role("heading", name="Service catalog")).to_be_visible()
    expect(page.locator(".service-name")).to_have_count(9)
    payouts = page.locator("tr", has=page.get_by_role("link", name="payouts"))
    expect(payouts.locator(".env-status.status-healthy")).to_contain_text("Healthy")
    screenshot(page, "catalog")

    # Results as you type (htmx, debounced): no submit, the URL follows the search.
    page.get_by_label("Search services by name, description or tag").fill("pay")
    # checkout, fraud-score (descriptions), payouts and payments-api (names)
    expect(page.locator(".service-name")).to_have_count(4)
    expect(page).to_have_url(re.compile(r"/catalog/\?q=pay"))
    # A facet narrows the results and shows it is chosen.
    page.locator("#facet-kind + ul").get_by_role("link", name="Lambda function").click()
    expect(page.locator(".service-name")).to_have_count(3)
    expect(page.locator(".facet-option.selected")).to_contain_text("Lambda function")
    expect(page.get_by_label("Search services by name, description or tag")).to_have_value("pay")

    page.get_by_role("link", name="payouts").click()
    expect(page.get_by_role("heading", name="payouts")).to_be_visible()
    function = aws_client("lambda").get_function(FunctionName="payouts-dev")["Configuration"]
    function_arn = function["FunctionArn"]
    expect(page.locator("#env-dev")).to_contain_text(function_arn)
    console = "https://us-east-1.console.aws.amazon.com/lambda/home?region=us-east-1"
    link = page.locator("#env-dev").get_by_role("link", name="AWS console for Lambda function")
    expect(link).to_have_attribute("href", f"{console}#/functions/payouts-dev")
    screenshot(page, "service-overview")

    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Description").fill("Pays sellers every night.")
    page.get_by_label("Tags").fill("payouts, batch")
    page.get_by_label("Depends on").fill("ledger, nope")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#field-depends_on .error")).to_contain_text("No service named nope")
    page.get_by_label("Depends on").fill("ledger")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the settings of payouts.")
    expect(page.locator(".description")).to_have_text("Pays sellers every night.")
    expect(page.locator(".dep-list").first).to_contain_text("ledger")

    page.get_by_role("link", name="Payments").first.click()
    expect(page.get_by_role("heading", name="Payments")).to_be_visible()
    expect(page.locator("#deployments-heading + .table-wrap")).to_contain_text("payouts")
    screenshot(page, "team")

    if os.environ.get("SLIPWAY_SCREENSHOTS"):
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto("/catalog/")
        screenshot(page, "catalog-phone")


def test_other_team_sees_no_edit_controls_and_is_refused(browser_page, catalog):  # noqa: F811
    page = browser_page
    sign_in(page, "charlie", PASSWORD)
    page.goto("/catalog/services/checkout/")
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_role("link", name="Settings")).to_have_count(0)
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)

    # Posting the form directly, with a valid CSRF token, is refused with a friendly page.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        "/catalog/services/checkout/settings/",
        form={"csrfmiddlewaretoken": token, "name": "Hijacked", "lifecycle": "production"},
    )
    assert response.status == 403
    assert "You can’t do that here" in response.text()
    assert Service.objects.get(slug="checkout").name == "Checkout"
