"""Users get friendly error pages, never a debug page or a traceback (DEBUG=False)."""

import pytest
from django.test import override_settings
from django.urls import reverse


@pytest.fixture(autouse=True)
def no_debug(settings):
    settings.DEBUG = False


def test_404_is_friendly(client, personas):
    client.force_login(personas["alice"])
    response = client.get("/catalog/services/no-such-service/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "We couldn’t find that page" in html
    assert 'action="/catalog/"' in html  # a way on: search the catalog
    assert "Traceback" not in html and "URLconf" not in html


def test_403_is_friendly_and_says_why(client, catalog):
    client.force_login(catalog["charlie"])
    response = client.get(reverse("catalog:service_settings", args=["checkout"]))
    assert response.status_code == 403
    html = response.content.decode()
    assert "You can’t do that here" in html
    assert "Only members of the owner team can change this service." in html
    assert 'href="/catalog/"' in html


@override_settings(ROOT_URLCONF="catalog.tests.error_urls")
def test_500_is_friendly_and_leaks_nothing(client, personas):
    client.raise_request_exception = False
    client.force_login(personas["alice"])
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "hunter2" not in html and "Traceback" not in html and "RuntimeError" not in html
