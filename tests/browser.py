"""Playwright helpers: Debian's Chromium, headless, with no background network traffic."""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser_page(live_server):
    """A fresh page in headless Debian Chromium; never a downloaded browser. The test fails if
    the browser reports a Content-Security-Policy violation."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # around it are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(base_url=live_server.url)
        page.set_default_timeout(20_000)
        # Every browser test also checks the Content-Security-Policy: Chromium reports each
        # refused script, style or request on the console.
        page.csp_violations = []
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and page.csp_violations.append(message.text)
            ),
        )
        yield page
        violations = list(page.csp_violations)
        browser.close()
    assert violations == [], "the page broke its Content-Security-Policy"
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def sign_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/catalog/")
