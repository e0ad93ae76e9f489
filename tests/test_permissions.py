"""Who may see and do what: login everywhere but /healthz and login; owners only for writes."""

import pytest
from django.urls import reverse

from catalog.models import Service
from deployments.models import Deployment


@pytest.mark.parametrize(
    "url",
    [
        reverse("home"),
        reverse("catalog:service_list"),
        reverse("catalog:service_detail", args=["anything"]),
        reverse("deployments:lambda_create"),
        reverse("deployments:detail", args=[1]),
    ],
)
def test_anonymous_is_sent_to_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_post_to_deploy_form_is_sent_to_login_and_creates_nothing(client, personas):
    response = client.post(reverse("deployments:lambda_create"), {"name": "x"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not Service.objects.exists()


def test_health_check_needs_no_login(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_login_page_is_public(client, db):
    assert client.get(reverse("login")).status_code == 200


def test_user_without_a_team_gets_403_on_the_deploy_form(client, db):
    from django.contrib.auth import get_user_model

    loner = get_user_model().objects.create_user("loner", password="x-Passw0rd!")
    client.force_login(loner)
    assert client.get(reverse("deployments:lambda_create")).status_code == 403
    assert client.post(reverse("deployments:lambda_create"), {}).status_code == 403


def test_charlie_cannot_create_a_service_for_another_team(client, personas):
    client.force_login(personas["charlie"])
    response = client.post(
        reverse("deployments:lambda_create"),
        {
            "name": "sneaky",
            "owner": personas["payments"].pk,
            "environment": personas["dev"].pk,
            "runtime": "python3.12",
            "handler": "app.handler",
            "source": "x = 1",
            "memory_size": 128,
            "timeout": 3,
            "architecture": "x86_64",
        },
    )
    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert not Service.objects.exists()
    assert not Deployment.objects.exists()


@pytest.mark.parametrize(
    "url", [reverse("catalog:service_list"), reverse("deployments:detail", args=[1])]
)
def test_read_only_pages_refuse_post(client, personas, url):
    client.force_login(personas["alice"])
    assert client.post(url).status_code == 405


def test_signed_in_user_sees_the_catalog(client, personas):
    client.force_login(personas["charlie"])
    response = client.get(reverse("catalog:service_list"))
    assert response.status_code == 200
    assert b"Service catalog" in response.content
