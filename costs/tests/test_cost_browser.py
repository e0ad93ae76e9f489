"""In a real browser: the create form's monthly cost follows what is typed (htmx), within the
page's Content-Security-Policy."""

import pytest
from playwright.sync_api import expect

from catalog.models import Service
from conftest import PASSWORD
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_the_lambda_form_shows_its_monthly_cost_as_it_is_filled_in(
    browser_page,  # noqa: F811
    personas,
    aws_emulator,
):
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.goto("/deployments/new/lambda/")
    box = page.locator("#cost-estimate")
    expect(box).to_contain_text("Fill in the form without errors")  # asked for on load

    page.get_by_label("Function name").fill("thumbs")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_label("Memory (MB)").fill("512")
    page.get_by_label("Expected requests per month").fill("3000000")
    page.get_by_label("Average duration (ms)").fill("120")
    page.get_by_label("Average duration (ms)").blur()  # a change event: the box is asked again
    # 3 million × $0.20 per million + 180,000 GB-seconds × $0.0000166667 = $3.60
    expect(box).to_contain_text("About $3.60/month")
    page.get_by_text("How this is worked out").click()
    expect(page.locator(".cost-items")).to_contain_text("Lambda requests")

    page.get_by_label("Expected requests per month").fill("30000000")
    page.get_by_label("Expected requests per month").blur()
    expect(box).to_contain_text("About $36.00/month")  # ten times the traffic
    assert not Service.objects.exists()  # estimating planned nothing
