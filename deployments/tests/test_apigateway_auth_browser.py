"""In a real browser: protect an HTTP API route with a JWT authorizer through the form, deploy,
and see the route's protection on the service's Overview."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from deployments.tests.test_provision_apigateway import make_target
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Orders1"


def test_protect_a_route_with_jwt_and_see_it_on_the_overview(
    browser_page,  # noqa: F811
    personas,
    aws_clean,
    celery_worker,
):
    make_target(personas, "orders-fn")
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.goto("/deployments/new/apigateway/")
    page.get_by_label("API name").fill("shop-api")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_label("API type").select_option("http")
    page.get_by_label("Authorizers").fill(f"users jwt {ISSUER} web")
    page.get_by_label("Routes").fill(
        "GET /orders -> orders-fn | users orders.read\nGET /health -> orders-fn | public"
    )
    page.get_by_role("button", name="Review plan").click()

    deployment = page.locator(".deployment")
    expect(deployment).to_have_attribute("data-status", "planned")
    expect(deployment.locator(".plan-list")).to_contain_text("GET /orders: JWT (orders.read)")
    page.get_by_role("button", name="Confirm and deploy").click()
    expect(deployment).to_have_attribute("data-status", "succeeded", timeout=60_000)

    v2 = aws_client("apigatewayv2")
    [api] = [a for a in v2.get_apis()["Items"] if a["Name"] == "shop-api-dev"]
    [authorizer] = v2.get_authorizers(ApiId=api["ApiId"])["Items"]
    assert authorizer["AuthorizerType"] == "JWT"
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api["ApiId"])["Items"]}
    assert routes["GET /orders"]["AuthorizationType"] == "JWT"

    page.goto("/catalog/services/shop-api/")
    row = page.locator("table.routes tr", has_text="GET /orders")
    expect(row.locator(".protection")).to_have_text("JWT (orders.read)")
    health = page.locator("table.routes tr", has_text="GET /health")
    expect(health.locator(".protection")).to_have_text("public")
