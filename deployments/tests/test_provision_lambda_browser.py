"""In a real browser: add an EventBridge trigger to a deployed function, then scale it."""

import json

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, wait_for
from deployments import services
from deployments.forms.lambda_ import deterministic_zip
from deployments.models import Deployment
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_add_a_trigger_and_scale_in_the_browser(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    aws_client("events").create_event_bus(Name="orders-bus")
    services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="orders",
        kind="lambda",
        environment=personas["dev"],
        spec={
            "kind": "lambda",
            "runtime": "python3.12",
            "handler": "app.handler",
            "memory_size": 128,
            "timeout": 5,
            "architecture": "x86_64",
            "description": "",
            "environment": {},
            "reserved_concurrency": 4,
        },
        code=deterministic_zip("app.py", "def handler(event, context):\n    return 1\n"),
        confirm=True,
    )
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    deployment = page.locator(".deployment")

    wait_for(
        lambda: Deployment.objects.filter(status="succeeded").exists(),
        message="first deployment did not finish",
    )

    # Update: the form starts from the applied spec; a bad pattern is refused next to the field.
    page.goto("/deployments/services/orders/dev/update/")
    expect(page.get_by_label("Reserved concurrency")).to_have_value("4")
    page.get_by_label("EventBridge bus").fill("orders-bus")
    page.get_by_label("Event pattern (JSON)").fill("{source: shop}")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator("#field-event_pattern .error")).to_contain_text("not valid JSON")

    page.get_by_label("Event pattern (JSON)").fill('{"source": ["shop.orders"]}')
    page.get_by_role("button", name="Review plan").click()
    expect(deployment).to_have_attribute("data-status", "planned")
    expect(deployment.locator(".plan-list")).to_contain_text(
        "Add EventBridge trigger on bus orders-bus"
    )
    page.get_by_role("button", name="Confirm and deploy").click()
    expect(deployment).to_have_attribute("data-status", "succeeded", timeout=60_000)
    [rule] = aws_client("events").list_rules(EventBusName="orders-bus")["Rules"]
    assert json.loads(rule["EventPattern"]) == {"source": ["shop.orders"]}

    # Scale: the plan reads like a sentence, and AWS has the new number afterwards.
    page.goto("/deployments/services/orders/dev/scale/")
    page.get_by_label("Reserved concurrency").fill("6")
    page.get_by_role("button", name="Review plan").click()
    expect(deployment.locator(".plan-list")).to_contain_text("reserved concurrency 4 → 6")
    page.get_by_role("button", name="Confirm and deploy").click()
    expect(deployment).to_have_attribute("data-status", "succeeded", timeout=60_000)
    concurrency = aws_client("lambda").get_function_concurrency(FunctionName="orders-dev")
    assert concurrency["ReservedConcurrentExecutions"] == 6
