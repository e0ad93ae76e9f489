"""Personal API tokens: shown once, hashed at rest, revocable, audited."""

import pytest
from django.urls import reverse

from api.models import ApiToken
from api.services import token_authenticate, token_create, token_revoke
from audit.models import AuditEvent


def test_page_shows_the_secret_once_and_stores_only_its_hash(client, personas):
    client.force_login(personas["alice"])
    response = client.post(reverse("api:token_list"), {"name": "CI deploys"})
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret.startswith("slw_") and secret in response.content.decode()

    token = ApiToken.objects.get()
    assert token.user == personas["alice"] and token.name == "CI deploys"
    assert token.token_hash == ApiToken.hash(secret) and secret not in token.token_hash
    assert token_authenticate(raw=secret) == personas["alice"]

    # Shown once: the list page never renders it again.
    page = client.get(reverse("api:token_list")).content.decode()
    assert secret not in page and token.prefix in page and "CI deploys" in page

    event = AuditEvent.objects.get(action="api_token.create")
    assert event.actor == personas["alice"] and secret not in str(event.after)


def test_blank_name_is_refused_next_to_the_field(client, personas):
    client.force_login(personas["alice"])
    response = client.post(reverse("api:token_list"), {"name": "  "})
    assert response.status_code == 400
    assert "name" in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_revoke_stops_the_token_and_is_audited(client, personas):
    token, secret = token_create(user=personas["alice"], name="laptop")
    client.force_login(personas["alice"])
    response = client.post(reverse("api:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token_authenticate(raw=secret) is None
    assert AuditEvent.objects.filter(action="api_token.revoke", result="ok").count() == 1
    # The API refuses it too.
    api = client.get("/api/v1/services", headers={"authorization": f"Bearer {secret}"})
    assert api.status_code == 401


def test_other_users_cannot_revoke_and_get_on_revoke_is_405(client, personas):
    token, secret = token_create(user=personas["alice"], name="laptop")
    client.force_login(personas["charlie"])
    assert client.post(reverse("api:token_revoke", args=[token.pk])).status_code == 404
    assert client.get(reverse("api:token_revoke", args=[token.pk])).status_code == 405
    assert token_authenticate(raw=secret) == personas["alice"]
    with pytest.raises(Exception):  # noqa: B017 — PermissionDenied from the service itself
        token_revoke(token=token, user=personas["charlie"])
    assert AuditEvent.objects.filter(action="api_token.revoke", result="denied").exists()


def test_staff_revoke_from_the_admin(client, personas):
    token, secret = token_create(user=personas["alice"], name="laptop")
    staff = personas["staff"]
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    response = client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert token_authenticate(raw=secret) is None
    assert AuditEvent.objects.get(action="api_token.revoke").source == "admin"
    page = client.get(reverse("admin:api_apitoken_change", args=[token.pk])).content.decode()
    assert token.token_hash not in page


def test_garbage_and_inactive_users_do_not_authenticate(personas):
    token, secret = token_create(user=personas["bob"], name="x")
    assert token_authenticate(raw="slw_nope") is None
    assert token_authenticate(raw="") is None
    personas["bob"].is_active = False
    personas["bob"].save()
    assert token_authenticate(raw=secret) is None


def test_a_remembered_token_needs_no_query_and_is_refused_at_once_when_revoked(
    client, personas, django_assert_num_queries
):
    token, secret = token_create(user=personas["alice"], name="ci")
    headers = {"authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/environments", headers=headers).status_code == 200
    with django_assert_num_queries(1):  # the page alone: the token is remembered
        assert client.get("/api/v1/environments", headers=headers).status_code == 200
    token_revoke(token=token, user=personas["alice"])
    assert client.get("/api/v1/environments", headers=headers).status_code == 401


def test_a_remembered_token_follows_changes_to_its_user(client, personas):
    from catalog import services as catalog_services

    catalog_services.service_create(
        user=personas["alice"], owner=personas["payments"], slug="ledger", kind="lambda"
    )
    _, secret = token_create(user=personas["charlie"], name="ci")
    headers = {"authorization": f"Bearer {secret}"}
    patch = {"data": {"description": "x"}, "content_type": "application/json", "headers": headers}
    assert client.patch("/api/v1/services/ledger", **patch).status_code == 403
    charlie = personas["charlie"]
    charlie.is_staff = True  # staff may change any service
    charlie.save()
    assert client.patch("/api/v1/services/ledger", **patch).status_code == 200
    charlie.is_active = False
    charlie.save()
    assert client.get("/api/v1/environments", headers=headers).status_code == 401
