"""The live log: a deployment page is pushed its changes (server-sent events over Redis)."""

import time

import pytest
from django.urls import reverse

from conftest import launch_lambda
from deployments import engine
from deployments.models import Deployment


def read_events(response, *, until: str = "done", timeout: float = 60):
    """Parse a text/event-stream response into (event, data, received_at) until `until`."""
    events, buffer = [], ""
    deadline = time.monotonic() + timeout
    for chunk in response.streaming_content:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            lines = block.splitlines()
            name = next((ln[7:] for ln in lines if ln.startswith("event: ")), "")
            data = "\n".join(ln[6:] for ln in lines if ln.startswith("data: "))
            if name:
                events.append((name, data, time.time()))
            if name == until:
                return events
        assert time.monotonic() < deadline, events
    return events


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_page_receives_each_step_and_the_final_state_as_it_is_written(
    client, personas, aws_clean, celery_worker
):
    deployment = launch_lambda(personas, "pushed")
    client.force_login(personas["bob"])
    page = client.get(deployment.get_absolute_url()).content.decode()
    events_url = reverse("deployments:events", args=[deployment.pk])
    assert f'sse-connect="{events_url}"' in page
    assert "sse-2.2.4.min.js" in page and "deployments/live.js" in page

    response = client.get(events_url)
    assert response["Content-Type"] == "text/event-stream"
    events = read_events(response)

    assert events[-1][0] == "done"
    fragments = [data for name, data, _ in events if name == "deployment"]
    assert len(fragments) >= 3  # the queued/running state, step changes, the end
    assert 'data-status="succeeded"' in fragments[-1]
    assert "Create Lambda function pushed-dev" in fragments[-1]
    assert "data-poll-url" not in fragments[-1]  # finished: nothing more to fetch
    assert 'data-status="succeeded"' not in fragments[0]
    finished_at = Deployment.objects.get(pk=deployment.pk).finished_at.timestamp()
    final_received = next(t for name, data, t in events if 'data-status="succeeded"' in data)
    print(f"final state received {1000 * (final_received - finished_at):.0f} ms after the write")
    assert final_received - finished_at < 1.0


@pytest.mark.integration
def test_a_stream_is_bounded_and_keeps_idle_connections_alive(
    client, personas, aws_emulator, settings
):
    settings.DEPLOY_EVENTS_MAX_SECONDS = 1.0
    settings.DEPLOY_EVENTS_HEARTBEAT_SECONDS = 0.3
    deployment = launch_lambda(personas, "idle")  # queued: nobody works on it in this test
    client.force_login(personas["charlie"])  # everyone may read a deployment
    started = time.monotonic()
    body = b"".join(
        client.get(reverse("deployments:events", args=[deployment.pk])).streaming_content
    )
    assert 0.9 < time.monotonic() - started < 3
    text = body.decode()
    assert text.startswith("retry: ")
    assert text.count("event: deployment") == 1  # the current state, then nothing changed
    assert ": still here" in text
    assert "event: done" not in text  # not finished: the browser reconnects


@pytest.mark.integration
def test_a_finished_deployment_streams_its_state_once_and_ends(client, personas, aws_emulator):
    deployment = launch_lambda(personas, "over")
    lease = engine.deployment_claim(deployment_id=deployment.pk)
    Deployment.objects.filter(pk=deployment.pk, lease=lease).update(status="cancelled")
    client.force_login(personas["alice"])
    page = client.get(deployment.get_absolute_url()).content.decode()
    assert "sse-connect" not in page and "data-poll-url" not in page
    body = b"".join(
        client.get(reverse("deployments:events", args=[deployment.pk])).streaming_content
    )
    assert body.decode().count("event: deployment") == 1
    assert body.decode().endswith("event: done\ndata: \n\n")


def test_events_need_a_login_and_are_read_only(client, personas):
    url = reverse("deployments:events", args=[999])
    assert client.get(url).status_code == 302
    client.force_login(personas["alice"])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 405


@pytest.mark.integration
def test_streams_per_process_are_capped_and_free_again_when_closed(
    client, personas, aws_emulator, settings
):
    settings.DEPLOY_EVENTS_MAX_STREAMS = 1
    settings.DEPLOY_EVENTS_MAX_SECONDS = 0.3
    deployment = launch_lambda(personas, "busy")
    client.force_login(personas["alice"])
    url = reverse("deployments:events", args=[deployment.pk])
    first = client.get(url)
    assert first.status_code == 200
    busy = client.get(url)
    assert busy.status_code == 503 and busy["Retry-After"] == "10"
    b"".join(first.streaming_content)  # the stream ends (time limit) and is closed
    again = client.get(url)
    assert again.status_code == 200
    assert b"event: deployment" in b"".join(again.streaming_content)
