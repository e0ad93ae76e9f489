"""In a real browser: the admin and the edges of a service's life take the same path as the pages.

Admin delete of a deployed service, an alarm threshold edited in the admin, delete of a Lambda an
API routes to, retry after a failed first create, promote dev → prod with approval, and deploy a
service imported from Backstage. What AWS holds is read back through the emulator's endpoint.
"""

import pytest
from playwright.sync_api import expect

from catalog import services as catalog_services
from catalog.models import Service
from conftest import PASSWORD, finished_deployment, launch_lambda, wait_for
from deployments import services as deployment_services
from deployments.models import Deployment
from monitoring.models import AlarmRule
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture
from tests.faultproxy import Rule

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def confirm_and_wait(page, status="succeeded"):
    deployment = page.locator(".deployment")
    expect(deployment).to_have_attribute("data-status", "planned")
    page.get_by_role("button", name="Confirm and deploy").click()
    expect(page.locator(".deployment")).to_have_attribute("data-status", status, timeout=90_000)


def functions():
    return {f["FunctionName"]: f for f in aws_client("lambda").list_functions()["Functions"]}


def deployed_lambda(personas, slug, **overrides):
    deployment = launch_lambda(personas, slug, **overrides)
    done = wait_for(lambda: finished_deployment(deployment.pk), timeout=90)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    return done


@pytest.fixture
def superuser(personas):
    personas["staff"].is_superuser = True
    personas["staff"].save()
    return personas["staff"]


def test_admin_delete_of_a_deployed_service_leads_to_the_delete_flow(
    browser_page,  # noqa: F811
    personas,
    superuser,
    aws_clean,
    celery_worker,
):
    deployed_lambda(personas, "orders")
    service = Service.objects.get(slug="orders")
    page = browser_page
    sign_in(page, "staff", PASSWORD)

    page.goto(f"/admin/catalog/service/{service.pk}/change/")
    page.get_by_role("link", name="Delete", exact=True).click()
    message = page.locator(".messagelist")
    expect(message).to_contain_text("still runs in AWS, so it cannot be deleted here")
    assert Service.objects.filter(slug="orders").exists()
    assert "orders-dev" in functions()

    message.get_by_role("link", name="delete it from Development").click()
    page.get_by_label("Type the service name to confirm").fill("orders")
    page.get_by_role("button", name="Review teardown").click()
    expect(page.locator(".plan-list")).to_contain_text("CloudWatch alarm")
    confirm_and_wait(page)
    assert "orders-dev" not in functions()
    assert (
        aws_client("cloudwatch").describe_alarms(AlarmNamePrefix="slipway-dev-orders-")[
            "MetricAlarms"
        ]
        == []
    )

    # Now it runs nowhere, so the admin deletes it.
    page.goto(f"/admin/catalog/service/{service.pk}/delete/")
    page.get_by_role("button", name="Yes, I’m sure").click()
    expect(page.locator(".messagelist")).to_contain_text("was deleted successfully")
    assert not Service.objects.filter(slug="orders").exists()


def test_an_alarm_threshold_edited_in_the_admin_reaches_cloudwatch(
    browser_page,  # noqa: F811
    personas,
    superuser,
    aws_clean,
    celery_worker,
):
    deployed_lambda(personas, "orders")
    rule = AlarmRule.objects.get(instance__service__slug="orders")
    page = browser_page
    sign_in(page, "staff", PASSWORD)

    page.goto(f"/admin/monitoring/alarmrule/{rule.pk}/change/")
    page.get_by_label("Threshold").fill("42")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    (alarm,) = aws_client("cloudwatch").describe_alarms(AlarmNames=[rule.alarm_name])[
        "MetricAlarms"
    ]
    assert alarm["Threshold"] == 42
    # The Metrics page shows the same number.
    page.goto("/monitoring/services/orders/metrics/")
    expect(page.get_by_label("Threshold for Lambda errors")).to_have_value("42")


def test_deleting_a_lambda_an_api_routes_to_is_refused_with_the_apis_name(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    deployed_lambda(personas, "orders")
    api = deployment_services.service_launch(
        user=personas["alice"],
        owner=personas["payments"],
        slug="shop-api",
        kind="apigateway",
        environment=personas["dev"],
        spec={
            "kind": "apigateway",
            "api_type": "rest",
            "stage": "dev",
            "routes": [{"method": "GET", "path": "/orders", "target": "orders"}],
            "throttle": {"rate": 100, "burst": 50},
            "require_api_key": False,
            "usage_plan": None,
        },
        confirm=True,
    )
    done = wait_for(lambda: finished_deployment(api.pk), timeout=90)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    page = browser_page
    sign_in(page, "alice", PASSWORD)

    page.goto("/deployments/services/orders/")
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.locator(".refusal")).to_contain_text("the API shop-api routes to it")
    page.get_by_label("Type the service name to confirm").fill("orders")
    page.get_by_role("button", name="Review teardown").click()
    expect(page.locator(".errors").first).to_contain_text("shop-api")
    assert not Deployment.objects.filter(action="delete").exists()
    assert "orders-dev" in functions()


def test_retry_after_a_failed_first_create(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    faults,
    celery_worker,
):
    faults.add(Rule("CreateFunction", times=1, status=400, code="InvalidParameterValueException"))
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.goto("/deployments/new/lambda/")
    page.get_by_label("Function name").fill("orders")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_role("button", name="Review plan").click()
    confirm_and_wait(page, status="failed")
    assert "orders-dev" not in functions()

    # The service page offers the way forward: retry (or delete the service).
    page.goto("/catalog/services/orders/")
    expect(page.get_by_role("link", name="Delete the service")).to_be_visible()
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".plan-list")).to_contain_text("Create Lambda function orders-dev")
    confirm_and_wait(page)
    assert "orders-dev" in functions()


def test_promote_dev_to_prod_with_approval(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    deployed_lambda(personas, "orders", memory_size=512)
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.goto("/deployments/services/orders/")
    page.get_by_role("link", name="Promote from Development").click()
    expect(
        page.get_by_role("heading", name="Promote orders from Development to Production")
    ).to_be_visible()
    expect(page.get_by_label("Memory (MB)")).to_have_value("512")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator(".plan-list")).to_contain_text("Create Lambda function orders-prod")
    page.get_by_role("button", name="Confirm and deploy").click()
    expect(page.locator(".deployment")).to_have_attribute("data-status", "awaiting_approval")
    assert "orders-prod" not in functions()
    url = page.url

    # A teammate approves; the page follows the run live.
    page.context.clear_cookies()
    sign_in(page, "bob", PASSWORD)
    page.goto(url)
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".deployment")).to_have_attribute(
        "data-status", "succeeded", timeout=90_000
    )
    prod = functions()["orders-prod"]
    assert prod["MemorySize"] == 512


def test_deploy_a_service_imported_from_backstage(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    # What an import leaves: a catalog service with no instance anywhere.
    catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="billing", kind="lambda"
    )
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.goto("/catalog/services/billing/")
    page.get_by_role("link", name="Deploy to Development").click()
    expect(page.get_by_label("Function name")).to_have_value("billing")
    expect(page.get_by_label("Function name")).to_be_disabled()
    page.get_by_label("Memory (MB)").fill("256")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator(".plan-list")).to_contain_text("Create Lambda function billing-dev")
    confirm_and_wait(page)
    assert functions()["billing-dev"]["MemorySize"] == 256
    assert Service.objects.filter(slug="billing").count() == 1
