"""In a real browser: create an ECS service, scale it, revert it; charlie can only look."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, launch_lambda
from deployments.models import Deployment
from portal.aws import aws_client
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def confirm_and_wait(page):
    deployment = page.locator(".deployment")
    expect(deployment).to_have_attribute("data-status", "planned")
    page.get_by_role("button", name="Confirm and deploy").click()
    expect(page.locator(".deployment")).to_have_attribute(
        "data-status", "succeeded", timeout=90_000
    )


def desired_count(environment):
    environment.refresh_from_db()
    service = aws_client("ecs").describe_services(
        cluster=environment.ecs_cluster, services=["web-dev"]
    )["services"][0]
    return service["desiredCount"]


def test_create_scale_and_revert_an_ecs_service(browser_page, personas, aws_clean, celery_worker):  # noqa: F811
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="New service").click()
    page.get_by_role("link", name="ECS Fargate service").click()
    page.get_by_label("Name", exact=True).fill("web")
    page.get_by_label("Environment", exact=True).select_option(label="Development")
    page.get_by_label("Image").fill("public.ecr.aws/nginx/nginx:1.27")
    page.get_by_label("Path pattern or host").fill("/web/*")
    page.get_by_label("Desired count").fill("2")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator(".plan-list")).to_contain_text("desired count")
    confirm_and_wait(page)
    assert desired_count(personas["dev"]) == 2

    # Scale from the Deployments tab: the plan shows the change, the page follows it live.
    page.get_by_role("link", name="Deployments", exact=True).click()
    page.get_by_role("link", name="Scale").click()
    page.get_by_label("Desired count").fill("3")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator(".plan-list")).to_contain_text("desired count 2 → 3")
    confirm_and_wait(page)
    assert desired_count(personas["dev"]) == 3

    # Revert to the first deployment in one click (then confirm its plan).
    first = Deployment.objects.filter(action="create").get()
    page.goto(first.get_absolute_url())
    page.get_by_role("button", name="Revert to this version").click()
    expect(page.locator(".plan-list")).to_contain_text("desired count 3 → 2")
    confirm_and_wait(page)
    assert desired_count(personas["dev"]) == 2

    # A scale-down beyond the environment's guardrail is refused with the reason.
    personas["dev"].__class__.objects.filter(pk=personas["dev"].pk).update(
        max_scale_down_percent=10
    )
    page.get_by_role("link", name="Deployments", exact=True).click()
    page.get_by_role("link", name="Scale").click()
    page.get_by_label("Desired count").fill("1")
    page.get_by_role("button", name="Review plan").click()
    expect(page.locator(".errors")).to_contain_text("allows at most 10 %")


def test_charlie_sees_no_change_buttons_and_gets_403(browser_page, personas, aws_clean):  # noqa: F811
    launch_lambda(personas, "private", confirm=False)
    page = browser_page
    sign_in(page, "charlie", PASSWORD)
    page.goto("/deployments/services/private/")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    expect(page.get_by_role("link", name="Scale")).to_have_count(0)
    expect(page.get_by_role("button", name="Confirm and deploy")).to_have_count(0)
    deployment = Deployment.objects.get()
    page.goto(deployment.get_absolute_url())
    expect(page.get_by_role("button", name="Confirm and deploy")).to_have_count(0)
    # Posting directly, with charlie's own session and CSRF token, is refused.
    status = page.evaluate(
        """async (url) => {
            const cookie = document.cookie.split('; ').find(c => c.startsWith('csrftoken='));
            const token = cookie.split('=')[1];
            const r = await fetch(url, {method: 'POST', headers: {'X-CSRFToken': token}});
            return r.status;
        }""",
        f"/deployments/{deployment.pk}/confirm/",
    )
    assert status == 403
    deployment.refresh_from_db()
    assert deployment.status == "planned"
