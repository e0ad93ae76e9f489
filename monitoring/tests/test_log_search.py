"""Log search across services: one Logs Insights query follows a request id through an API, the
Lambda behind it and the ECS service it calls, against the emulator over HTTP."""

import re

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from catalog.models import Service
from monitoring.models import LogSearch
from monitoring.tests.test_logs import messages, put_lines
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

REQUEST = "req-7f3a-42"


@pytest.fixture
def chain(make_instance):
    """public-api → orders (Lambda) → billing (ECS), plus search (ECS) outside the chain."""
    api = make_instance(slug="public-api", kind="apigateway", applied_spec={"kind": "apigateway"})
    orders = make_instance(slug="orders", kind="lambda", applied_spec={"kind": "lambda"})
    billing = make_instance(slug="billing", kind="ecs", applied_spec={"kind": "ecs"})
    other = make_instance(slug="search", kind="ecs", applied_spec={"kind": "ecs"})
    api.service.depends_on.add(orders.service)
    orders.service.depends_on.add(billing.service)
    put_lines(
        ["GET /orders 200", f"GET /orders/9 200 requestId={REQUEST}"],
        group="/slipway/dev/public-api/access",
    )
    put_lines(
        ["START", f'{{"level": "info", "request_id": "{REQUEST}", "msg": "order 9"}}'],
        group="/aws/lambda/orders-dev",
    )
    put_lines([f"charged order 9 for {REQUEST}", "healthcheck ok"], group="/slipway/dev/billing")
    put_lines([f"unrelated {REQUEST} in another chain"], group="/slipway/dev/search")
    return {"api": api, "orders": orders, "billing": billing, "other": other}


def search(client, personas, **overrides):
    data = {
        "text": REQUEST,
        "environment": personas["dev"].pk,
        "range": "1h",
        "services": [Service.objects.get(slug="public-api").pk],
        "with_dependencies": "on",
    }
    data.update(overrides)
    return client.post(reverse("monitoring:log_search"), data)


def follow(client, response):
    """The results page once AWS finished (the page polls; here we ask until it is done)."""
    assert response.status_code == 302, response.content.decode()[:2000]
    for _ in range(50):
        page = client.get(response["Location"])
        if 'data-status="running"' not in page.content.decode():
            return page
    pytest.fail("the search never finished")


def hits(html: str) -> list[tuple[str, str]]:
    return re.findall(
        r'data-service="([^"]+)".*?<pre class="log-message[^"]*">(.*?)</pre>', html, re.S
    )


def test_one_request_id_is_followed_through_three_services(client, personas, aws_clean, chain):
    client.force_login(personas["charlie"])  # any signed-in user reads logs, as on the Logs tab
    page = follow(client, search(client, personas))
    html = page.content.decode()

    found = hits(html)
    assert sorted(service for service, _ in found) == ["billing", "orders", "public-api"]
    assert all(REQUEST in message for _, message in found)
    assert "unrelated" not in html  # search is outside the chain
    assert "healthcheck" not in html and "START" not in html

    record = LogSearch.objects.get()
    assert record.status == LogSearch.Status.COMPLETE and record.result_count == 3
    assert sorted(slug for _, slug in record.groups) == ["billing", "orders", "public-api"]
    audit = AuditEvent.objects.get(action="logs.search")
    assert audit.actor == personas["charlie"] and audit.after["text"] == REQUEST

    # Each result links to its service's Logs tab at that moment, which shows that line.
    link = re.search(r'<a class="log-service" href="([^"]+)"[^>]*>orders</a>', html).group(1)
    tab = client.get(link.replace("&amp;", "&"))
    assert tab.status_code == 200
    assert any(REQUEST in line for line in messages(tab.content.decode()))


def test_a_team_scope_covers_only_that_teams_services(client, personas, aws_clean, chain):
    from catalog import services as catalog_services

    catalog_services.service_create(
        user=personas["charlie"], owner=personas["search"], slug="indexer", kind="lambda"
    )
    client.force_login(personas["alice"])
    response = search(
        client, personas, services=[], with_dependencies="", team=personas["search"].pk
    )
    # "indexer" is not deployed: the search team has nothing to search in dev.
    assert response.status_code == 400
    assert not response.context["form"].errors
    assert "None of the chosen services is deployed" in response.content.decode()
    assert not LogSearch.objects.exists()
    assert not AuditEvent.objects.filter(action="logs.search").exists()


def test_bounds_refuse_with_a_clear_message_and_record_nothing(
    client, personas, aws_clean, chain, settings
):
    client.force_login(personas["alice"])
    settings.LOG_SEARCH_MAX_GROUPS = 2
    response = search(client, personas)
    assert response.status_code == 400
    assert "at most 2" in response.content.decode()
    assert not LogSearch.objects.exists()

    response = search(client, personas, range="30d")
    assert response.status_code == 400
    assert "range" in response.context["form"].errors

    response = search(client, personas, text="ab")
    assert "at least 3" in " ".join(response.context["form"].errors["text"])

    response = search(client, personas, text="req\x00id")
    assert response.status_code == 400
    assert response.context["form"].errors["text"]
    assert not LogSearch.objects.exists()


def test_concurrent_queries_per_account_are_bounded(client, personas, aws_clean, chain, settings):
    from django.core.cache import cache

    settings.LOG_SEARCH_MAX_CONCURRENT = 1
    cache.delete_many([f"slipway:insights:123456789012:us-east-1:{i}" for i in range(10)])
    client.force_login(personas["alice"])
    first = search(client, personas)
    assert first.status_code == 302
    second = search(client, personas)
    assert second.status_code == 400
    assert "Too many log searches" in second.content.decode()
    follow(client, first)  # the first one finishes and gives its slot back
    assert search(client, personas).status_code == 302


def test_a_search_is_its_authors_own(client, personas, aws_clean, chain):
    client.force_login(personas["alice"])
    response = search(client, personas)
    client.force_login(personas["charlie"])
    assert client.get(response["Location"]).status_code == 404
    client.force_login(personas["staff"])
    assert client.get(response["Location"]).status_code == 200


def test_anonymous_users_are_sent_to_sign_in(client, personas):
    for url in (reverse("monitoring:log_search"), "/monitoring/logs/search/1/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"]
    response = client.post(reverse("monitoring:log_search"), {"text": "x"})
    assert response.status_code == 302 and "/login" in response["Location"]
    assert not LogSearch.objects.exists()


def test_the_emulator_applies_filter_clauses(aws_clean, chain):
    """The emulator patch (portal/emulator_logs.py) that makes this page testable."""
    logs = aws_client("logs")
    import time

    now = int(time.time())
    query = logs.start_query(
        logGroupNames=["/slipway/dev/billing"],
        startTime=now - 3600,
        endTime=now + 60,
        queryString="fields @message | filter @message like /charged/",
    )
    rows = logs.get_query_results(queryId=query["queryId"])["results"]
    assert [[f["value"] for f in r if f["field"] == "@message"] for r in rows] == [
        [f"charged order 9 for {REQUEST}"]
    ]
