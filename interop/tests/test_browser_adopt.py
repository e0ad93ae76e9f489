"""In a real browser: a user finds an AWS Copilot app on the discovery page and adopts it with
its services in one step."""

import pytest

from catalog.models import Service
from conftest import PASSWORD
from interop.tests.test_adopt_apps import make_copilot_app
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_adopt_a_copilot_app_from_the_discovery_page(browser_page, personas, aws_clean):  # noqa: F811
    make_copilot_app()
    page = browser_page
    sign_in(page, "alice", PASSWORD)
    page.goto("/interop/discovery/?environment=dev")
    app = page.locator("section.app-group")
    assert "AWS Copilot app shop" in app.text_content()
    assert app.get_by_role("row").count() == 4  # the header and three services
    app.get_by_label("Owner").select_option(label="Payments")
    app.get_by_label("Name prefix").fill("shop-")
    app.get_by_role("button", name="Adopt app (3 services)").click()
    page.wait_for_selector("text=Adopted app shop")
    assert page.locator("section.app-group").count() == 0  # nothing of the app is left
    assert sorted(Service.objects.values_list("slug", flat=True)) == [
        "shop-frontend",
        "shop-mailer",
        "shop-orders",
    ]
