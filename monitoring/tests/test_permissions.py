"""Who may see and change monitoring: every signed-in user reads, owners change thresholds."""

import pytest
from django.urls import reverse

from monitoring.models import AlarmRule

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def rule(make_instance):
    instance = make_instance(slug="orders")
    return AlarmRule.objects.create(
        instance=instance,
        key="lambda-errors",
        alarm_name="slipway-dev-orders-lambda-errors",
        threshold=5,
    )


def read_urls(rule):
    return [
        reverse("monitoring:metrics", args=["orders"]),
        reverse("monitoring:logs", args=["orders"]),
        reverse("monitoring:logs_tail", args=["orders"]) + "?since=1",
        reverse("monitoring:summary", args=[rule.instance.pk]),
        reverse("monitoring:alarm_history", args=[rule.pk]),
    ]


def test_anonymous_users_are_sent_to_sign_in(client, rule):
    for url in read_urls(rule):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/accounts/login/" in response["Location"]


def test_read_views_are_get_only(client, personas, rule):
    client.force_login(personas["alice"])
    for url in read_urls(rule):
        assert client.post(url).status_code == 405, url


def test_unknown_service_or_environment_is_404(client, personas, rule):
    client.force_login(personas["charlie"])
    assert client.get(reverse("monitoring:metrics", args=["nope"])).status_code == 404
    assert (
        client.get(reverse("monitoring:logs", args=["orders"]), {"env": "prod"}).status_code == 404
    )
    assert client.get(reverse("monitoring:summary", args=[999999])).status_code == 404
    assert client.post(reverse("monitoring:alarm_threshold", args=[999999])).status_code == 404
