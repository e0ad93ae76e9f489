"""In a real browser: staff uploads the example catalog; a user makes an API token."""

from pathlib import Path

import pytest

from conftest import PASSWORD
from interop import backstage
from tests.browser import browser_page, sign_in  # noqa: F401 — fixture

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "backstage"
SHOTS = Path(__file__).resolve().parents[2] / "var"


def test_upload_the_example_catalog_and_make_a_token(
    browser_page,  # noqa: F811
    personas,
    celery_worker,
):
    page = browser_page
    sign_in(page, "staff", PASSWORD)
    page.goto("/interop/import/")
    files = [name for name, _ in backstage.files_from_paths([EXAMPLES])]
    page.set_input_files("input[type=file]", files)
    page.get_by_role("button", name="Import").click()
    # The worker imports; the job page follows it (htmx) and swaps in the report.
    page.wait_for_url("**/interop/import/*/")
    page.wait_for_selector("#report-title", timeout=60_000)
    assert "0 errors" in page.text_content("#report-title")
    assert page.get_by_text("Component checkout").first.is_visible()
    page.screenshot(path=str(SHOTS / "shot-import.png"), full_page=True)

    page.goto("/catalog/")
    assert page.get_by_text("Checkout service").first.is_visible()

    page.goto("/account/tokens/")
    page.get_by_label("Name").fill("CI deploys")
    page.get_by_role("button", name="Create token").click()
    secret = page.text_content("#new-token")
    assert secret.startswith("slw_")
    page.screenshot(path=str(SHOTS / "shot-tokens.png"), full_page=True)
    page.goto("/account/tokens/")
    assert secret not in page.content()  # shown once

    page.goto("/audit/")
    assert page.get_by_text("api_token.create").first.is_visible()
    assert page.get_by_text("catalog.import").first.is_visible()
    page.screenshot(path=str(SHOTS / "shot-audit.png"), full_page=True)
