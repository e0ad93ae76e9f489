"""Password guessing: django-axes locks a username/address pair after repeated failures."""

from django.conf import settings
from django.urls import reverse

from conftest import PASSWORD


def test_repeated_wrong_passwords_lock_the_account_for_that_address(client, personas):
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "alice", "password": "guess"})
        assert response.status_code == 200  # the form again, with an error
    locked = client.post(url, {"username": "alice", "password": "guess"})
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content

    # Even the right password is refused while locked ...
    response = client.post(url, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session

    # ... but another user from the same address is not affected.
    response = client.post(url, {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(personas["bob"].pk)


def test_a_correct_login_resets_the_failure_count(client, personas):
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(url, {"username": "alice", "password": "guess"})
    assert client.post(url, {"username": "alice", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(url, {"username": "alice", "password": "guess"}).status_code == 200
