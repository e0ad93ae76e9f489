"""Timed scale-ups: a scale that reverts itself through a normal deployment when its time comes,
and is not reverted when someone changed the scaling since; extend and cancel."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from conftest import launch_lambda
from deployments import services, timed
from deployments.models import Deployment, TimedRevert
from deployments.tests.test_provision_ecs import run_inline
from portal.aws import aws_client

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def reserved(name="ledger-dev"):
    return (
        aws_client("lambda")
        .get_function_concurrency(FunctionName=name)
        .get("ReservedConcurrentExecutions")
    )


@pytest.fixture
def ledger(personas, aws_clean):
    done = run_inline(launch_lambda(personas, "ledger", reserved_concurrency=5))
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    return done.instance


def scale_up(client, personas, hours="2", value="20"):
    client.force_login(personas["alice"])
    response = client.post(
        reverse("deployments:scale", args=["ledger", "dev"]),
        {
            "reserved_concurrency": value,
            "provisioned_concurrency": "0",
            "revert_after_hours": hours,
        },
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    scale = Deployment.objects.filter(action="scale").latest("pk")
    services.deployment_confirm(deployment=scale, user=personas["alice"])
    done = run_inline(scale)
    assert done.status == Deployment.Status.SUCCEEDED, done.error
    return done


def make_due(deployment):
    Deployment.objects.filter(pk=deployment.pk).update(
        finished_at=timezone.now() - deployment.revert_after - timedelta(seconds=1)
    )


def test_a_timed_scale_up_reverts_itself_through_a_normal_deployment(client, personas, ledger):
    scale = scale_up(client, personas)
    assert reserved() == 20
    assert scale.timed_revert == TimedRevert.SCHEDULED
    assert scale.revert_at == scale.finished_at + timedelta(hours=2)
    page = client.get(scale.get_absolute_url()).content.decode()
    assert "Timed scale-up: goes back to the earlier numbers" in page

    assert timed.timed_reverts_run_due() == []  # not yet
    make_due(scale)
    planned = timed.timed_reverts_run_due()
    scale.refresh_from_db()
    assert len(planned) == 1, scale.timed_revert_note
    [revert_pk] = planned
    revert = Deployment.objects.get(pk=revert_pk)
    assert revert.action == "scale" and revert.reverts_id == scale.pk
    assert revert.spec["reserved_concurrency"] == 5
    assert run_inline(revert).status == Deployment.Status.SUCCEEDED
    assert reserved() == 5
    scale.refresh_from_db()
    assert scale.timed_revert == TimedRevert.REVERTED
    assert f"#{revert.pk}" in scale.timed_revert_note
    assert AuditEvent.objects.filter(action="deployment.scale.plan", source="system").exists()
    assert timed.timed_reverts_run_due() == []  # once


def test_it_is_not_reverted_when_the_scaling_changed_since(client, personas, ledger):
    scale = scale_up(client, personas)
    ledger.refresh_from_db()
    later = services.deployment_request(
        instance=ledger,
        spec={**ledger.applied_spec, "reserved_concurrency": 30},
        user=personas["bob"],
        action="scale",
    )
    assert run_inline(later).status == Deployment.Status.SUCCEEDED
    make_due(scale)
    assert timed.timed_reverts_run_due() == []
    scale.refresh_from_db()
    assert scale.timed_revert == TimedRevert.REFUSED
    assert "the scaling changed after this scale-up" in scale.timed_revert_note
    assert reserved() == 30  # bob's later change stays


def test_extend_and_cancel(client, personas, ledger):
    scale = scale_up(client, personas, hours="1")
    before = scale.revert_at
    client.force_login(personas["bob"])
    client.post(reverse("deployments:timed_revert_extend", args=[scale.pk]), {"hours": "4"})
    scale.refresh_from_db()
    assert scale.revert_at == before + timedelta(hours=4)
    client.post(reverse("deployments:timed_revert_cancel", args=[scale.pk]))
    scale.refresh_from_db()
    assert scale.timed_revert == TimedRevert.CANCELLED
    make_due(scale)
    assert timed.timed_reverts_run_due() == []
    assert reserved() == 20
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"deployment.timed_revert.extend", "deployment.timed_revert.cancel"} <= actions


def test_only_owners_extend_or_cancel(client, personas, ledger):
    scale = scale_up(client, personas)
    for name in ("timed_revert_extend", "timed_revert_cancel"):
        url = reverse(f"deployments:{name}", args=[scale.pk])
        client.logout()
        assert "/login" in client.post(url, {"hours": "1"})["Location"]
        client.force_login(personas["charlie"])
        assert client.post(url, {"hours": "1"}).status_code == 403
        assert client.get(url).status_code == 405
    scale.refresh_from_db()
    assert scale.timed_revert == TimedRevert.SCHEDULED


def test_the_window_is_bounded(client, personas, ledger):
    client.force_login(personas["alice"])
    response = client.post(
        reverse("deployments:scale", args=["ledger", "dev"]),
        {"reserved_concurrency": "9", "provisioned_concurrency": "0", "revert_after_hours": "500"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["revert_after_hours"]
    assert not Deployment.objects.filter(action="scale").exists()
