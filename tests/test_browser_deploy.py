"""In a real browser: sign in, create a Lambda service from the form, watch it succeed live."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_sign_in_create_lambda_and_watch_it_succeed(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    expect(page.get_by_role("heading", name="Service catalog")).to_be_visible()

    page.get_by_role("link", name="New Lambda service").click()
    page.get_by_label("Function name").fill("checkout")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_label("Runtime").select_option("python3.12")
    page.get_by_label("Handler").fill("main.handle")
    page.get_by_label("Source").fill("def handle(event, context):\n    return 'ok'\n")
    page.get_by_label("Memory (MB)").fill("512")
    page.get_by_role("button", name="Review plan").click()

    # The plan comes first; nothing is created until the user confirms it.
    deployment = page.locator(".deployment")
    expect(deployment).to_have_attribute("data-status", "planned")
    expect(deployment.locator(".plan-list")).to_contain_text("Create Lambda function checkout-dev")
    expect(deployment.locator(".plan-list")).to_contain_text("memory: 512 MB")
    # Record what the server pushes to the next page (htmx:sseBeforeMessage, one per event).
    page.add_init_script(
        "window.pushed = [];"
        "document.addEventListener('htmx:sseBeforeMessage', e => window.pushed.push(e.detail.data))"
    )
    page.get_by_role("button", name="Confirm and deploy").click()

    # The server pushes each change (server-sent events): no reload needed by the user.
    expect(deployment).to_have_attribute("data-status", "succeeded", timeout=60_000)
    pushed = page.evaluate("window.pushed")
    assert any('data-status="succeeded"' in html for html in pushed), pushed
    expect(deployment).to_contain_text("Create Lambda function checkout-dev")
    expect(deployment.locator(".status-succeeded").first).to_be_visible()

    config = aws_client("lambda").get_function(FunctionName="checkout-dev")["Configuration"]
    assert config["Handler"] == "main.handle"
    assert config["MemorySize"] == 512


def test_bad_memory_is_shown_next_to_the_field(browser_page, personas):  # noqa: F811
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.goto("/deployments/new/lambda/")
    page.get_by_label("Function name").fill("tiny")
    page.get_by_label("Memory (MB)").fill("64")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator("#field-memory_size .error")).to_contain_text(
        "greater than or equal to 128"
    )


def test_the_page_polls_when_the_event_stream_is_down(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    from conftest import launch_lambda

    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.route("**/events/", lambda route: route.abort())  # a proxy that drops the stream
    polls = []
    page.on("request", lambda r: r.headers.get("hx-request") and polls.append(r.url))
    deployment = launch_lambda(personas, "fallback")
    page.goto(deployment.get_absolute_url())

    expect(page.locator(".deployment")).to_have_attribute(
        "data-status", "succeeded", timeout=60_000
    )
    assert polls, "the page neither got the stream nor polled"
