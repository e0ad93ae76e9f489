"""The Logs tab against the emulator: filter, newest first, load older, JSON, live tail, errors."""

import contextlib
import json
import re
import time

import pytest
from django.urls import reverse

from portal.aws import aws_client, call_counts
from tests.faultproxy import Rule

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

GROUP = "/aws/lambda/orders-dev"


def put_lines(messages, *, start_ms=None, group=GROUP, stream="app"):
    logs = aws_client("logs")
    for create, kwargs in (
        (logs.create_log_group, {"logGroupName": group}),
        (logs.create_log_stream, {"logGroupName": group, "logStreamName": stream}),
    ):
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            create(**kwargs)
    start_ms = start_ms or int(time.time() * 1000) - len(messages) * 1000
    events = [{"timestamp": start_ms + i * 1000, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return events


def messages(html: str) -> list[str]:
    return re.findall(r'<pre class="log-message[^"]*">(.*?)</pre>', html, re.S)


def filter_calls(before) -> int:
    return (call_counts() - before)[("cloudwatch-logs", "FilterLogEvents")]


@pytest.fixture
def orders(make_instance):
    return make_instance(slug="orders")


def test_filter_pattern_narrows_the_lines(client, personas, aws_clean, orders):
    put_lines(["INFO order 1 placed", "ERROR payment failed for order 2", "INFO order 3 placed"])
    client.force_login(personas["charlie"])
    url = reverse("monitoring:logs", args=["orders"])

    everything = messages(client.get(url).content.decode())
    before = call_counts()
    errors = messages(client.get(url, {"pattern": "ERROR", "range": "1h"}).content.decode())

    assert everything == [  # newest first
        "INFO order 3 placed",
        "ERROR payment failed for order 2",
        "INFO order 1 placed",
    ]
    assert errors == ["ERROR payment failed for order 2"]
    assert filter_calls(before) == 1


def test_load_older_pages_back_without_repeating_a_line(client, personas, aws_clean, orders):
    put_lines([f"line {i:03d}" for i in range(70)])
    client.force_login(personas["alice"])
    url = reverse("monitoring:logs", args=["orders"])

    html = client.get(url).content.decode()
    first = messages(html)
    assert first[0] == "line 069" and first[-1] == "line 020" and len(first) == 50
    link = re.search(r'<a href="(\?[^"]*before=[^"]*)"', html).group(1).replace("&amp;", "&")

    before = call_counts()
    older = client.get(url + link, headers={"HX-Request": "true"}).content.decode()
    assert filter_calls(before) == 1
    assert messages(older) == [f"line {i:03d}" for i in range(19, -1, -1)]
    assert "Load older" not in older  # nothing older is left
    assert "<html" not in older  # a fragment appended below the lines shown


def test_json_messages_are_pretty_printed(client, personas, aws_clean, orders):
    put_lines([json.dumps({"level": "ERROR", "order": 7})])
    client.force_login(personas["alice"])
    html = client.get(reverse("monitoring:logs", args=["orders"])).content.decode()
    assert '<pre class="log-message json">{\n  &quot;level&quot;: &quot;ERROR&quot;,' in html


def test_live_tail_picks_up_a_new_line_once(client, personas, aws_clean, orders):
    put_lines(["first line"])
    client.force_login(personas["alice"])
    html = client.get(reverse("monitoring:logs", args=["orders"])).content.decode()
    tail_url = re.search(r'id="tail-poller"[^>]*hx-get="([^"]+)"', html, re.S).group(1)
    tail_url = tail_url.replace("&amp;", "&")
    assert 'hx-trigger="every 2s" data-poll-when="tail-on"' in html  # see static/js/slipway.js

    put_lines(["a new line"], start_ms=int(time.time() * 1000))
    before = call_counts()
    tail = client.get(tail_url).content.decode()
    assert filter_calls(before) == 1
    assert 'hx-swap-oob="afterbegin:#log-lines"' in tail
    assert messages(tail) == ["a new line"]

    # The next poll asks from the new line on and does not repeat it.
    next_url = re.search(r'hx-get="([^"]+)"', tail).group(1).replace("&amp;", "&")
    assert messages(client.get(next_url).content.decode()) == []


def test_a_missing_log_group_is_a_message_not_an_error(client, personas, aws_clean, orders):
    client.force_login(personas["alice"])
    response = client.get(reverse("monitoring:logs", args=["orders"]))
    assert response.status_code == 200
    assert "The log group /aws/lambda/orders-dev does not exist yet" in response.content.decode()


def test_throttling_is_a_message_not_an_error(client, personas, aws_clean, faults, orders):
    put_lines(["hello"])
    faults.add(Rule("FilterLogEvents", times=1, status=400, code="ThrottlingException"))
    client.force_login(personas["alice"])
    response = client.get(reverse("monitoring:logs", args=["orders"]))
    assert response.status_code == 200
    assert "CloudWatch Logs is throttling requests" in response.content.decode()


def test_embedded_mode_explains_which_patterns_work(client, personas, aws_clean, orders):
    client.force_login(personas["alice"])
    html = client.get(reverse("monitoring:logs", args=["orders"])).content.decode()
    assert "only plain terms filter" in html


def test_a_too_long_pattern_is_refused_next_to_the_field(client, personas, aws_clean, orders):
    client.force_login(personas["alice"])
    before = call_counts()
    html = client.get(reverse("monitoring:logs", args=["orders"]), {"pattern": "x" * 1025})
    assert "at most 1024 characters" in html.content.decode()
    assert filter_calls(before) == 0


def test_a_window_larger_than_one_aws_page_offers_load_newer(
    client, personas, aws_clean, orders, monkeypatch
):
    """FilterLogEvents returns a full window's OLDEST page first; the page says so honestly."""
    from monitoring import logs

    monkeypatch.setattr(logs, "FETCH_LIMIT", 5)  # stand-in for AWS's 10,000
    monkeypatch.setattr(logs, "PAGE_SIZE", 3)
    put_lines([f"line {i}" for i in range(8)])
    client.force_login(personas["alice"])
    url = reverse("monitoring:logs", args=["orders"])

    html = client.get(url).content.decode()
    assert messages(html) == ["line 4", "line 3", "line 2"]
    assert "these are its oldest" in html
    newer = re.search(r'<a href="(\?[^"]*token=[^"]*)"', html).group(1).replace("&amp;", "&")

    before = call_counts()
    assert messages(client.get(url + newer).content.decode()) == ["line 7", "line 6", "line 5"]
    assert filter_calls(before) == 1


def test_deeply_nested_json_lines_render_as_raw_text(client, personas, aws_clean, orders):
    """A service that logs its callers' input cannot break its own Logs tab or live tail."""
    deep = "[" * 100_000 + "]" * 100_000
    put_lines([deep, '{"ok": true}'], start_ms=int(time.time() * 1000) - 5000)
    client.force_login(personas["alice"])
    response = client.get(reverse("monitoring:logs", args=["orders"]), {"range": "15m"})
    assert response.status_code == 200
    html = response.content.decode()
    assert messages(html)[1] == deep  # raw, not pretty-printed
    assert "&quot;ok&quot;: true" in html  # its neighbour still pretty-printed

    since = int(time.time() * 1000) - 60_000
    tail = client.get(reverse("monitoring:logs_tail", args=["orders"]), {"since": since})
    assert tail.status_code == 200
    assert deep in tail.content.decode()
